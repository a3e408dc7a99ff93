"""rnnlab-report: one table (and a plot) for a whole sweep.

    rnnlab-report outputs/multirun/<stamp> [--metric val/loss_best] [--mode min]
                  [--x data.pairs] [--best-over optimizer.lr]

Reads every job's overrides (.hydra/overrides.yaml) and metrics.json, and writes into the
sweep dir report.csv (a row per job), report.md (jobs, then mean +- std over seeds per
configuration, best first) and report.png: the metric per configuration with error bars,
or, with ``--x KEY`` (a swept key with numeric values), the metric against that key, one
line per configuration of the other swept keys (mean +- std over seeds) and a table of the
same. ``--best-over KEY`` takes, at each point of each line, the value of KEY (for example
the learning rate) whose mean is best. Defaults come from the ``report`` settings the
sweep's config stored (conf/train.yaml), then from its optimized_metric and optimized_mode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnlab.report.figures import print_curves, print_table, write_curves, write_reports, write_search
from rnnlab.report.sweep import IGNORED, curves, read_sweep, stored_objectives, stored_settings, summarize


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rnnlab-report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="a sweep directory: outputs/multirun/<stamp>")
    parser.add_argument("--metric", help="a metrics.json key (default: the sweep's optimized_metric)")
    parser.add_argument(
        "--mode", choices=("min", "max"), help="which way is better (default: the sweep's optimized_mode)"
    )
    parser.add_argument("--x", help="a swept key with numeric values: plot the metric against it")
    parser.add_argument(
        "--storage",
        help="the Optuna storage of a search kept outside its sweep dir (a .journal file or a URL)",
    )
    parser.add_argument(
        "--along",
        action="append",
        help="with --x a metric (model/state_size): a swept key that moves a point along its line",
    )
    parser.add_argument(
        "--best-over",
        action="append",
        help="a swept key (e.g. optimizer.lr) to take the best of at each point",
    )
    args = parser.parse_args(argv)
    jobs = read_sweep(args.sweep) if args.sweep.is_dir() else []
    if not jobs:
        _refuse(f"sweep must be a sweep directory with numbered job dirs (got '{args.sweep}')")
    stored = stored_settings(args.sweep)
    metric = args.metric or stored.get("metric", "val/loss")
    mode = args.mode or stored.get("mode", "min")
    x, best_over = args.x or stored.get("x"), args.best_over or stored.get("best_over", [])
    along = args.along or stored.get("along", [])
    rows = summarize(jobs, metric, mode)
    write_reports(args.sweep, jobs, rows, metric)
    study = read_study(args.sweep, args.storage) if x is None else None
    if study is not None:
        objectives = stored_objectives(args.sweep) or [metric]
        write_search(args.sweep, study, objectives)
        print_table(rows, metric, f"{args.sweep}: a search of {len(jobs)} trials")
    elif x is not None:
        points = curves(jobs, metric, mode, x, best_over, along)
        if not points:
            swept = ", ".join(k for k in jobs[0].swept if not k.startswith(IGNORED)) or "none"
            _refuse(
                f"--x must be a swept key with numeric values, or a metric the runs wrote with --along "
                f"naming the swept keys that move a point along a line (got '{x}'; swept: {swept})"
            )
        columns_by = x if x in jobs[0].swept else ", ".join(along) or "run"
        write_curves(args.sweep, points, metric, x, columns_by)
        print_curves(points, metric, x, f"{args.sweep}: {len(jobs)} jobs", columns_by)
    else:
        print_table(rows, metric, f"{args.sweep}: {len(jobs)} jobs")
    failed = [j for j in jobs if j.status not in ("ok", "pruned")]
    for job in failed:
        error = job.metrics.get("error", "")
        print(f"job {job.name} ({job.configuration}, seed {job.seed or '-'}): {job.status}: {error}")
    print(f"wrote {args.sweep / 'report.csv'}, report.md, report.png")


def read_study(sweep: Path, storage: str | None):
    """The search's study, or None for a sweep that is not a search (or whose study does not
    read: then the sweep is reported as a sweep, and the line says why)."""
    from rnnlab.search import stored_study

    try:
        return stored_study(sweep, storage)
    except Exception as error:
        where = storage or sweep
        print(
            f"rnnlab-report: not read as an Optuna study ({type(error).__name__}): {where}", file=sys.stderr
        )
        return None


def _refuse(message: str) -> None:
    print(f"rnnlab-report: error: {message}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
