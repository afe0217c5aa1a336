"""Generates history.csv, the demo's bundled history: 18 months of daily traffic and data volume.

    python3 crates/loadcast-demo/data/generate_history.py > crates/loadcast-demo/data/history.csv

Everything that shapes the story is a parameter here, in the open:
"""
import math
import random

START = "2025-01-01"          # first day of history
DAYS = 577                    # 19 months: ends 2026-07-31, four months before the holiday peak
TRAFFIC_BASE = 100.0          # daily peak requests per second on the first day
TRAFFIC_GROWTH = 0.22         # +22% a year
SEASON_AMPLITUDE = 0.45       # the yearly season: +45% at its peak
SEASON_PEAK_DAY = 330         # day of the year of the seasonal peak (late November)
SEASON_WIDTH = 45.0           # days: how wide the holiday bump is
WEEKEND = 0.85                # Saturdays and Sundays
NOISE = 0.04                  # day-to-day noise
ORDERS_TODAY = 250_000        # rows in the orders table on the last day (what the demo seeds)
DATA_GROWTH = 0.005           # the orders table grows 0.5% a day, more in season: data grows
                              # far faster than traffic (about 2.5x in six months)
SEED = 20261124


def day_of_year(d):
    return (d + 0) % 365  # the history starts on January 1st


def season(doy):
    # A smooth holiday bump around SEASON_PEAK_DAY (wrapping around the year end).
    distance = min(abs(doy - SEASON_PEAK_DAY), 365 - abs(doy - SEASON_PEAK_DAY))
    return 1.0 + SEASON_AMPLITUDE * math.exp(-0.5 * (distance / SEASON_WIDTH) ** 2)


def date(d):
    y, m, day = 2025, 1, 1 + d
    lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    while True:
        year_len = lengths[:]
        if y % 4 == 0:
            year_len[1] = 29
        while day > year_len[m - 1]:
            day -= year_len[m - 1]
            m += 1
            if m > 12:
                m, y = 1, y + 1
                break
        else:
            return f"{y:04d}-{m:02d}-{day:02d}"


def main():
    random.seed(SEED)
    rows, orders = [], 1.0
    for d in range(DAYS):
        years = d / 365.0
        weekday = (d + 3) % 7  # 2025-01-01 was a Wednesday: 0 = Monday
        traffic = TRAFFIC_BASE * (1 + TRAFFIC_GROWTH * years) * season(day_of_year(d))
        traffic *= WEEKEND if weekday >= 5 else 1.0
        traffic *= 1 + random.gauss(0, NOISE)
        orders *= 1 + DATA_GROWTH * season(day_of_year(d)) / 1.1
        rows.append((date(d), traffic, orders))
    scale = ORDERS_TODAY / rows[-1][2]
    print("date,requests_per_s,orders_rows")
    for day, traffic, orders in rows:
        print(f"{day},{traffic:.1f},{orders * scale:.0f}")


if __name__ == "__main__":
    main()
