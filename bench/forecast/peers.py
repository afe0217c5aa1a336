"""Peers for bench/forecast: Prophet, statsmodels and the seasonal-naive baseline on rolling
holdouts, scored exactly as `loadcast forecast --backtest` scores itself.

    python3 bench/forecast/peers.py SERIES.csv --step-seconds 1800 --holdout 672 --season 336

Prints one JSON object per model: MASE (scaled by the in-sample seasonal-naive error of each
fold's training data), sMAPE (%), and the share of holdout points inside the 80% and 95%
intervals; plus fit seconds.
"""
import argparse, json, logging, sys, time, warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
logging.getLogger("prophet").setLevel(logging.ERROR)
logging.getLogger("cmdstanpy").setLevel(logging.ERROR)


def folds(n, holdout, min_train):
    """Origins n-h, n-2h, … while the training part keeps at least min_train points."""
    origins = []
    o = n - holdout
    while o >= min_train:
        origins.append(o)
        o -= holdout
    return origins[::-1]


def score(train, actual, point, lo80, hi80, lo95, hi95, season):
    scale = np.mean(np.abs(train[season:] - train[:-season]))
    err = np.abs(actual - point)
    return {
        "mase": float(np.mean(err) / scale),
        "smape": float(np.mean(2 * err / (np.abs(actual) + np.abs(point) + 1e-12)) * 100),
        "cover80": float(np.mean((actual >= lo80) & (actual <= hi80))),
        "cover95": float(np.mean((actual >= lo95) & (actual <= hi95))),
    }


def seasonal_naive(train, h, season, times):
    point = np.array([train[len(train) - season + (i % season)] for i in range(h)])
    # Intervals from the in-sample seasonal differences, widening with the seasons ahead.
    resid = train[season:] - train[:-season]
    sd = np.std(resid)
    k = np.floor(np.arange(h) / season) + 1
    w80, w95 = 1.2816 * sd * np.sqrt(k), 1.96 * sd * np.sqrt(k)
    return point, point - w80, point + w80, point - w95, point + w95


def sub_daily(times):
    return (times.iloc[1] - times.iloc[0]) < pd.Timedelta(days=1)


def prophet_model(train, h, season, times):
    from prophet import Prophet
    df = pd.DataFrame({"ds": times[: len(train)], "y": train})
    out = {}
    fine = sub_daily(times)
    for level in (0.8, 0.95):
        m = Prophet(interval_width=level, daily_seasonality=fine, weekly_seasonality=fine,
                    yearly_seasonality=not fine, uncertainty_samples=200)
        m.fit(df)
        future = pd.DataFrame({"ds": times[len(train): len(train) + h]})
        fc = m.predict(future)
        out[level] = fc
    p = out[0.8]["yhat"].values
    return (p, out[0.8]["yhat_lower"].values, out[0.8]["yhat_upper"].values,
            out[0.95]["yhat_lower"].values, out[0.95]["yhat_upper"].values)


def prophet_tuned(train, h, season, times):
    """Prophet as a practitioner would set it up for this kind of series: sharper daily and
    weekly shapes (more Fourier terms) and seasonality proportional to the level."""
    from prophet import Prophet
    df = pd.DataFrame({"ds": times[: len(train)], "y": train})
    out = {}
    for level in (0.8, 0.95):
        m = Prophet(interval_width=level, daily_seasonality=False, weekly_seasonality=False,
                    yearly_seasonality=False, seasonality_mode="multiplicative",
                    uncertainty_samples=200)
        if sub_daily(times):
            m.add_seasonality("daily", period=1, fourier_order=12)
            m.add_seasonality("weekly", period=7, fourier_order=8)
        else:
            m.add_seasonality("yearly", period=365.25, fourier_order=10)
        m.fit(df)
        out[level] = m.predict(pd.DataFrame({"ds": times[len(train): len(train) + h]}))
    p = out[0.8]["yhat"].values
    return (p, out[0.8]["yhat_lower"].values, out[0.8]["yhat_upper"].values,
            out[0.95]["yhat_lower"].values, out[0.95]["yhat_upper"].values)


def holt_winters(train, h, season, times):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    fit = ExponentialSmoothing(train, trend="add", damped_trend=True, seasonal="add",
                               seasonal_periods=season, initialization_method="heuristic").fit()
    point = fit.forecast(h)
    sim = fit.simulate(h, repetitions=500, error="add", anchor="end")
    return (point, np.percentile(sim, 10, axis=1), np.percentile(sim, 90, axis=1),
            np.percentile(sim, 2.5, axis=1), np.percentile(sim, 97.5, axis=1))


def stl_ets(train, h, season, times):
    from statsmodels.tsa.forecasting.stl import STLForecast
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    fit = STLForecast(pd.Series(train), ETSModel, model_kwargs={"trend": "add", "damped_trend": True},
                      period=season, robust=True).fit()
    fc = fit.get_prediction(len(train), len(train) + h - 1)
    f80, f95 = fc.summary_frame(alpha=0.2), fc.summary_frame(alpha=0.05)
    return (f80["mean"].values, f80["mean_ci_lower"].values, f80["mean_ci_upper"].values,
            f95["mean_ci_lower"].values, f95["mean_ci_upper"].values)


MODELS = {"seasonal-naive": seasonal_naive, "prophet": prophet_model, "prophet-tuned": prophet_tuned,
          "statsmodels-holt-winters": holt_winters, "statsmodels-stl-ets": stl_ets}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--column", default=None)
    ap.add_argument("--holdout", type=int, required=True)
    ap.add_argument("--season", type=int, required=True)
    ap.add_argument("--min-train", type=int, default=None)
    ap.add_argument("--models", default=",".join(MODELS))
    a = ap.parse_args()
    df = pd.read_csv(a.csv)
    column = a.column or df.columns[1]
    # Gaps are filled by linear interpolation, as loadcast fills them, so both see one series.
    y = df[column].astype(float).interpolate(limit_direction="both").values
    times = pd.to_datetime(df[df.columns[0]])
    # One more holdout of timestamps past the end for Prophet's future frame.
    step = times.iloc[1] - times.iloc[0]
    times = pd.concat([times, pd.Series([times.iloc[-1] + step * (i + 1) for i in range(a.holdout)])],
                      ignore_index=True)
    min_train = a.min_train or 4 * a.season
    origins = folds(len(y), a.holdout, min_train)
    for name in a.models.split(","):
        model = MODELS[name]
        scores, started = [], time.time()
        for o in origins:
            train, actual = y[:o], y[o:o + a.holdout]
            try:
                p, l80, h80, l95, h95 = model(train, a.holdout, a.season, times)
            except Exception as e:  # a peer that fails on a fold is reported, not hidden
                print(json.dumps({"model": name, "error": str(e)[:200]}), flush=True)
                break
            scores.append(score(train, actual, np.asarray(p), l80, h80, l95, h95, a.season))
        else:
            avg = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
            print(json.dumps({"model": name, "folds": len(scores), "seconds": time.time() - started,
                              **avg}), flush=True)


if __name__ == "__main__":
    main()
