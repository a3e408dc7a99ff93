"""rnnlab-bench: measurements taken side by side in one run, printed as ratios.

    rnnlab-bench sweep [--epochs 10] [--json PATH]

sweep: the same 4-job sine sweep (seeds 0..3) with Hydra's basic launcher (one job after
another, each with every core) and with hydra/launcher=joblib n_jobs=2 (two jobs at once,
each with half the cores); wall time of each whole command, and joblib / basic.
"""

from __future__ import annotations

import argparse
import json
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


def bench_sweep(epochs: int) -> dict:
    train = str(Path(sys.executable).parent / "rnnlab-train")
    common = ["-m", "seed=0,1,2,3", f"trainer.max_epochs={epochs}", "callbacks.rich_progress_bar=null"]
    with tempfile.TemporaryDirectory() as tmp:
        basic = _timed([train, *common, f"hydra.sweep.dir={tmp}/basic"])
        joblib = _timed(
            [
                train,
                *common,
                "hydra/launcher=joblib",
                "hydra.launcher.n_jobs=2",
                f"hydra.sweep.dir={tmp}/joblib",
            ]
        )
    return {"jobs": 4, "epochs": epochs, "basic_s": basic, "joblib_n2_s": joblib, "ratio": joblib / basic}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rnnlab-bench", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=["sweep"], help="which benchmark")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per sweep job")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    result = bench_sweep(args.epochs)

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"4-job sine sweep, {args.epochs} epochs a job", title_justify="left")
    table.add_column("launcher")
    table.add_column("wall s", justify="right")
    table.add_row("basic (sequential)", f"{result['basic_s']:.1f}")
    table.add_row("joblib n_jobs=2", f"{result['joblib_n2_s']:.1f}")
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"joblib/basic: {result['ratio']:.2f}x")


if __name__ == "__main__":
    main()
