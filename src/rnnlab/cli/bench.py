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

import json

from rnnlab.bench import BENCHMARKS
from rnnlab.cli.args import Parser, integer, new_file, one_of
from rnnlab.run.entry import one_line_errors
from rnnlab.run.results import write_whole


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="rnnlab-bench", description=__doc__.splitlines()[0])
    parser.add_argument("name", type=one_of(BENCHMARKS), metavar="benchmark", help=", ".join(BENCHMARKS))
    parser.add_argument("--epochs", type=integer(1), help="epochs per sweep job (sweep only; default 20)")
    parser.add_argument(
        "--repeats", type=integer(1), help="repeats to take medians of (default: the benchmark's)"
    )
    parser.add_argument("--json", type=new_file, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.name != "sweep":
        parser.refuse(f"--epochs must be left out of rnnlab-bench {args.name} (only sweep runs epochs)")
    benchmark = BENCHMARKS[args.name]
    options = {"epochs": args.epochs or 20} if args.name == "sweep" else {}
    result = benchmark.measure(args.repeats or benchmark.REPEATS, **options)
    benchmark.show(result)
    if args.json:
        with one_line_errors(parser.prog):  # a full disk: one line, the old file kept
            write_whole(args.json, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
