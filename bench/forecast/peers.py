"""Peers for bench/forecast, on exactly the rolling folds `loadcast forecast --backtest` uses and
scored exactly as it scores itself.

    python3 bench/forecast/peers.py SERIES.csv --column v --holdout 12 --min-train 96 \
        --scale-season 12 --seasons 12 --models autoets,autotheta,autoarima,mstl,seasonal-naive

Folds: origins n-h, n-2h, ... while at least --min-train samples remain before them. Per model:
MASE (each fold's MAE over the in-sample seasonal-naive MAE of its training data, lag
--scale-season; then the mean over folds), sMAPE (%), the share of holdout values inside the 80%
and 95% intervals, and seconds. One JSON object per line; a model that fails or is not
installed prints {"model", "error"} instead of being left out silently.

Peers: statsforecast's AutoETS, AutoTheta, AutoARIMA and MSTL (AutoETS trend), its seasonal
naive; Prophet when it is installed.
"""
import argparse, json, logging, multiprocessing, time, warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
logging.getLogger("prophet").setLevel(logging.ERROR)
logging.getLogger("cmdstanpy").setLevel(logging.ERROR)


def folds(n, holdout, min_train):
    origins, o = [], n - holdout
    while o >= min_train:
        origins.append(o)
        o -= holdout
    return origins[::-1]


def score(train, actual, point, lo80, hi80, lo95, hi95, lag):
    lag = lag if lag < len(train) else 1
    scale = np.mean(np.abs(train[lag:] - train[:-lag]))
    err = np.abs(actual - point)
    denom = np.abs(actual) + np.abs(point)
    smape = np.where(denom > 0, 2 * err / np.where(denom > 0, denom, 1), 0)
    return {
        "mase": float(np.mean(err) / scale) if scale > 0 else float("nan"),
        "smape": float(np.mean(smape) * 100),
        "cover80": float(np.mean((actual >= lo80) & (actual <= hi80))),
        "cover95": float(np.mean((actual >= lo95) & (actual <= hi95))),
    }


def statsforecast_model(name, seasons):
    """The statsforecast model `name` for a series with these seasonal periods (longest last)."""
    from statsforecast import models as m
    main = seasons[-1] if seasons else 1
    # ETS and ARIMA seasonal terms past a year of weeks are not what they are built for: they
    # get the shortest season, MSTL gets them all.
    short = min(seasons) if seasons else 1
    if name == "autoets":
        return m.AutoETS(season_length=short if short <= 52 else 1)
    if name == "autotheta":
        return m.AutoTheta(season_length=main)
    if name == "autoarima":
        return m.AutoARIMA(season_length=short if short <= 52 else 1)
    if name == "mstl":
        return m.MSTL(season_length=seasons or [1], trend_forecaster=m.AutoETS(model="ZZN"))
    if name == "seasonal-naive":
        return m.SeasonalNaive(season_length=main)
    raise KeyError(name)


def run_statsforecast(name, seasons):
    model = statsforecast_model(name, seasons)

    def forecast(train, h, times):
        fc = model.forecast(y=train.astype(np.float64), h=h, level=[80, 95])
        return fc["mean"], fc["lo-80"], fc["hi-80"], fc["lo-95"], fc["hi-95"]

    return forecast


def run_prophet(seasons, step):
    from prophet import Prophet

    def forecast(train, h, times):
        df = pd.DataFrame({"ds": times[: len(train)], "y": train})
        out = {}
        fine = step < pd.Timedelta(days=1)
        for level in (0.8, 0.95):
            model = Prophet(interval_width=level, daily_seasonality=fine,
                            weekly_seasonality=step <= pd.Timedelta(days=1),
                            yearly_seasonality=len(train) * step >= pd.Timedelta(days=600),
                            uncertainty_samples=200)
            model.fit(df)
            out[level] = model.predict(pd.DataFrame({"ds": times[len(train): len(train) + h]}))
        p = out[0.8]["yhat"].values
        return (p, out[0.8]["yhat_lower"].values, out[0.8]["yhat_upper"].values,
                out[0.95]["yhat_lower"].values, out[0.95]["yhat_upper"].values)

    return forecast


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--column", required=True)
    ap.add_argument("--holdout", type=int, required=True)
    ap.add_argument("--min-train", type=int, required=True)
    ap.add_argument("--scale-season", type=int, required=True)
    ap.add_argument("--seasons", default="", help="seasonal periods, comma-separated")
    ap.add_argument("--models", default="autoets,autotheta,autoarima,mstl,seasonal-naive,prophet")
    ap.add_argument("--timeout", type=float, default=300, help="seconds a model may take over all folds")
    a = ap.parse_args()
    df = pd.read_csv(a.csv)
    y = df[a.column].astype(float).interpolate(limit_direction="both").values
    times = pd.to_datetime(df[df.columns[0]], utc=True).dt.tz_localize(None)
    step = times.iloc[1] - times.iloc[0]
    future = [times.iloc[-1] + step * (i + 1) for i in range(a.holdout)]
    times = pd.concat([times, pd.Series(future)], ignore_index=True)
    seasons = sorted(int(s) for s in a.seasons.split(",") if s)
    origins = folds(len(y), a.holdout, a.min_train)
    for name in a.models.split(","):
        # Each model in a process of its own, so that one that does not finish (AutoARIMA on a
        # long seasonal series) is stopped at the timeout and reported, not waited for.
        queue = multiprocessing.Queue()
        worker = multiprocessing.Process(target=run_model,
                                         args=(name, seasons, step, y, times, origins, a, queue))
        worker.start()
        worker.join(a.timeout)
        if worker.is_alive():
            worker.terminate()
            worker.join()
            print(json.dumps({"model": name, "error": f"did not finish {len(origins)} folds in {a.timeout:.0f} s"}),
                  flush=True)
            continue
        print(queue.get() if not queue.empty() else json.dumps({"model": name, "error": "no result"}), flush=True)


def run_model(name, seasons, step, y, times, origins, a, queue):
    try:
        forecast = run_prophet(seasons, step) if name == "prophet" else run_statsforecast(name, seasons)
    except Exception as e:  # not installed, or not a model for this series
        queue.put(json.dumps({"model": name, "error": f"{type(e).__name__}: {e}"[:200]}))
        return
    scores, started = [], time.time()
    for o in origins:
        train, actual = y[:o], y[o:o + a.holdout]
        try:
            point, l80, h80, l95, h95 = (np.asarray(v, dtype=float) for v in forecast(train, a.holdout, times))
        except Exception as e:  # a peer that fails on a fold is reported, not hidden
            queue.put(json.dumps({"model": name, "error": f"{type(e).__name__}: {e}"[:200]}))
            return
        scores.append(score(train, actual, point, l80, h80, l95, h95, a.scale_season))
    avg = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
    queue.put(json.dumps({"model": name, "folds": len(scores), "seconds": time.time() - started, **avg}))

if __name__ == "__main__":
    main()
