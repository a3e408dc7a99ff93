"""rnnlab-bench: measurements taken side by side in one run, printed as ratios.

    rnnlab-bench sweep [--epochs 20] [--repeats 3] [--json PATH]

sweep: the same 4-job sine sweep (seeds 0..3) with Hydra's basic launcher (one job after
another, each with every core) and with hydra/launcher=joblib n_jobs=2 (two jobs at once,
each with half the cores); wall time of each whole command, pairs run back to back,
medians over the repeats, and the ratio joblib / basic.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"rnnlab-bench: error: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def bench_sweep(epochs: int, repeats: int) -> dict:
    train = str(Path(sys.executable).parent / "rnnlab-train")
    common = ["-m", "seed=0,1,2,3", f"trainer.max_epochs={epochs}", "callbacks.rich_progress_bar=null"]
    joblib_args = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    basic, joblib = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            basic.append(_timed([train, *common, f"hydra.sweep.dir={tmp}/basic{i}"]))
            joblib.append(_timed([train, *common, *joblib_args, f"hydra.sweep.dir={tmp}/joblib{i}"]))
    basic_median, joblib_median = statistics.median(basic), statistics.median(joblib)
    return {
        "jobs": 4,
        "epochs": epochs,
        "repeats": repeats,
        "basic_s": basic,
        "joblib_n2_s": joblib,
        "basic_median_s": basic_median,
        "joblib_n2_median_s": joblib_median,
        "ratio": joblib_median / basic_median,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rnnlab-bench", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=["sweep"], help="which benchmark")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per sweep job")
    parser.add_argument("--repeats", type=int, default=3, help="pairs of sweeps to take the medians of")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    result = bench_sweep(args.epochs, args.repeats)

    from rich.console import Console
    from rich.table import Table

    title = f"4-job sine sweep, {args.epochs} epochs a job, median of {args.repeats}"
    table = Table(title=title, title_justify="left")
    table.add_column("launcher")
    table.add_column("wall s (median)", justify="right")
    table.add_column("each run", justify="right")
    for name, key in (("basic (sequential)", "basic"), ("joblib n_jobs=2", "joblib_n2")):
        runs = " ".join(f"{t:.1f}" for t in result[f"{key}_s"])
        table.add_row(name, f"{result[f'{key}_median_s']:.1f}", runs)
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"joblib/basic: {result['ratio']:.2f}x")


if __name__ == "__main__":
    main()
