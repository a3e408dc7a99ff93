"""Does LSTNet's highway (task.highway=true) keep a forecaster from losing to the linear AR?

    python scripts/highway_study.py [--seeds 42] [--out outputs/highway_study]

Trains the default recipe (LSTM 1x64, 20 epochs) with and without the highway on five
series and prints each run's test MSE beside the linear AR's on the same windows:

- load, load + temperature: the README's example (scripts/make_load_csv.py), where the
  load answers the temperature nonlinearly;
- temperature: that file's temperature alone, hourly: a daily cycle plus weather that
  wanders for days, nearly linear (an AR model is hard to beat on it);
- daily: ten years of a daily series with a yearly cycle, a slow trend and AR(2) noise;
- sine: rnnlab's default task (data=sine).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from make_load_csv import generate


def daily_series(days: int = 3650, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    noise = np.zeros(days)
    for t in range(2, days):
        noise[t] = 0.6 * noise[t - 1] + 0.25 * noise[t - 2] + rng.normal(0.0, 1.0)
    t = np.arange(days)
    values = 12.0 + 0.001 * t + 8.0 * np.sin(2 * np.pi * (t - 100) / 365.25) + noise
    start = date(2014, 1, 1)
    return {"time": [(start + timedelta(days=int(d))).isoformat() for d in t], "value": np.round(values, 3)}


def write(path: Path, columns: dict) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values(), strict=True))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--out", type=Path, default=Path("outputs/highway_study"))
    parser.add_argument("--only", nargs="+", help="series to run (default: all)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    load = write(args.out / "load.csv", generate(4000, 0))
    daily = write(args.out / "daily.csv", daily_series())
    csv_series = ["data=series", "data.time_column=time"]
    series = {
        "load": [*csv_series, f"data.path={load}", "data.target=load", "data.season=24", "data.window=48"],
        "load + temperature": [
            *csv_series, f"data.path={load}", "data.target=load", "data.season=24", "data.window=48",
            "data.covariates=[temperature]",
        ],
        "temperature": [*csv_series, f"data.path={load}", "data.target=temperature", "data.window=48"],
        "daily": [*csv_series, f"data.path={daily}", "data.target=value", "data.window=64"],
        "sine": [],
    }  # fmt: skip
    train = Path(sys.executable).parent / "rnnlab-train"
    rows = []
    for name, overrides in series.items():
        if args.only and name not in args.only:
            continue
        for seed in args.seeds:
            scores = {}
            for highway in (False, True):
                run = args.out / f"{name.replace(' + ', '_')}-{seed}-{'highway' if highway else 'plain'}"
                command = [str(train), *overrides, f"seed={seed}", f"task.highway={str(highway).lower()}"]
                command += [f"hydra.run.dir={run}", "overwrite=true", "callbacks.rich_progress_bar=null"]
                subprocess.run(command, check=True, capture_output=True)
                metrics = json.loads((run / "metrics.json").read_text())
                scores[highway] = metrics["test/mse"]
                scores["ar"] = metrics["test/ar_mse"]
            rows.append((name, seed, scores[False], scores[True], scores["ar"]))
            print(
                f"{name:20s} seed {seed}: test MSE plain {scores[False]:.4g}, highway {scores[True]:.4g}, "
                f"AR {scores['ar']:.4g} (highway / AR {scores[True] / scores['ar']:.3f})",
                flush=True,
            )
    (args.out / "highway_study.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
