"""Write a synthetic hourly electricity load with the temperature that drives it, as a CSV.

    python scripts/make_load_csv.py outputs/data/load.csv [--hours 4000] [--ahead 0] [--seed 0]

Columns: time (ISO 8601, hourly from 2024-01-01 00:00), load, temperature. The temperature
is a daily cycle around 16 degrees plus weather: an AR(1) process that wanders for days.
The load is a daily cycle of its own, plus heating below and cooling above 18 degrees
(``slope`` per degree away from 18, a V that no linear model draws) felt ``lag`` hours
later, as buildings warm and cool slowly, plus Gaussian noise. Forecasting the load a few
hours ahead, its own past says how far from 18 degrees it was ``lag`` hours ago but not on
which side, nor where the weather went since: the temperature column says both, so a model
that reads it as a covariate should forecast better (README: forecasting a CSV).

``--ahead N`` adds N rows after the last with the temperature and no load: the weather
forecast a forecaster of the load reads past its horizon (README: forecast the next days).
"""

from __future__ import annotations

import argparse
import csv
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np


def generate(hours: int, seed: int, lag: int = 3, slope: float = 2.0, noise: float = 1.0) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(hours + lag)
    weather = np.zeros(len(t))
    for i in range(1, len(t)):  # AR(1): a stationary standard deviation of about 3.3 degrees
        weather[i] = 0.97 * weather[i - 1] + rng.normal(0.0, 0.8)
    temperature = 16.0 + 6.0 * np.sin(2 * np.pi * (t - 9) / 24) + weather
    felt = temperature[:-lag]  # the temperature lag hours before each load
    daily = 60.0 + 8.0 * np.sin(2 * np.pi * (t[lag:] - 8) / 24)
    load = daily + slope * np.abs(felt - 18.0) + rng.normal(0.0, noise, hours)
    start = datetime(2024, 1, 1)
    hourly = (start + timedelta(hours=h) for h in range(hours))
    return {
        "time": [moment.isoformat(sep=" ", timespec="minutes") for moment in hourly],
        "load": np.round(load, 3),
        "temperature": np.round(temperature[lag:], 2),
    }


def temperature_ahead(columns: dict, ahead: int, seed: int, lag: int = 3) -> list[tuple]:
    """``ahead`` rows after the last: the time, no load, and the temperature's weather
    carried on from the last row (its own draws, so the rows before are those of
    ``generate`` alone)."""
    rng = np.random.default_rng(seed + 1)
    last = len(columns["time"]) - 1 + lag  # the last row's t in generate
    cycle = lambda t: 16.0 + 6.0 * np.sin(2 * np.pi * (t - 9) / 24)  # noqa: E731
    weather = columns["temperature"][-1] - cycle(last)
    start = datetime.fromisoformat(columns["time"][-1])
    rows = []
    for k in range(1, ahead + 1):
        weather = 0.97 * weather + rng.normal(0.0, 0.8)
        moment = (start + timedelta(hours=k)).isoformat(sep=" ", timespec="minutes")
        rows.append((moment, "", round(float(cycle(last + k) + weather), 2)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the CSV file to write")
    parser.add_argument("--hours", type=int, default=4000, help="rows (default 4000)")
    parser.add_argument(
        "--ahead", type=int, default=0, help="rows of temperature only at the end (default 0)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the weather and the noise (default 0)")
    args = parser.parse_args()
    if args.hours < 2:
        parser.error("--hours must be at least 2")
    if args.ahead < 0:
        parser.error("--ahead must be at least 0")
    columns = generate(args.hours, args.seed)
    rows = list(zip(*columns.values(), strict=True)) + temperature_ahead(columns, args.ahead, args.seed)
    args.path.parent.mkdir(parents=True, exist_ok=True)
    with args.path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    ahead = f" and {args.ahead} hours of temperature ahead" if args.ahead else ""
    print(f"wrote {args.hours} hours{ahead} to {args.path}")


if __name__ == "__main__":
    main()
