"""rnnlab-bench: measurements taken side by side in one run, printed as ratios.

    rnnlab-bench sweep [--epochs 20] [--repeats 5] [--json PATH]
    rnnlab-bench cells [--repeats 7] [--json PATH]
    rnnlab-bench families [--repeats 5] [--json PATH]
    rnnlab-bench scan [--repeats 3] [--json PATH]
    rnnlab-bench parity [--repeats 5] [--json PATH]
    rnnlab-bench loader [--repeats 7] [--json PATH]
    rnnlab-bench startup [--repeats 5] [--json PATH]
    rnnlab-bench quality [--repeats 1] [--json PATH]
    rnnlab-bench pruning [--repeats 20] [--json PATH]   (--repeats: trials a search)

What each measures is in its module's docstring (src/rnnlab/bench/); the figures, and
how they were got, are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnlab.bench import BENCHMARKS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rnnlab-bench", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(BENCHMARKS), help="which benchmark")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per sweep job (sweep only)")
    parser.add_argument("--repeats", type=int, help="repeats to take medians of (default: the benchmark's)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    benchmark = BENCHMARKS[args.name]
    options = {"epochs": args.epochs} if args.name == "sweep" else {}
    result = benchmark.measure(args.repeats or benchmark.REPEATS, **options)
    benchmark.show(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
