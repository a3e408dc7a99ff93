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

from pathlib import Path

from rnnlab.cli.args import Parser, name, one_of
from rnnlab.errors import ConfigError, did_you_mean
from rnnlab.report.figures import print_curves, print_table, write_curves, write_reports, write_search
from rnnlab.report.sweep import (
    IGNORED,
    Job,
    curves,
    numeric,
    read_sweep,
    stored_objectives,
    stored_settings,
    summarize,
)
from rnnlab.run.entry import one_line_errors


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="rnnlab-report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="a sweep directory: outputs/multirun/<stamp>")
    parser.add_argument(
        "--metric", type=name, help="a metrics.json key (default: the sweep's optimized_metric)"
    )
    parser.add_argument(
        "--mode", type=one_of(("min", "max")), help="min or max: which way is better (default: the sweep's)"
    )
    parser.add_argument("--x", type=name, help="a swept key with numeric values: plot the metric against it")
    parser.add_argument(
        "--storage",
        type=name,
        help="the Optuna storage of a search kept outside its sweep dir (a .journal file or a URL)",
    )
    parser.add_argument(
        "--along",
        action="append",
        type=name,
        help="with --x a metric (model/state_size): a swept key that moves a point along its line",
    )
    parser.add_argument(
        "--best-over",
        action="append",
        type=name,
        help="a swept key (e.g. optimizer.lr) to take the best of at each point",
    )
    args = parser.parse_args(argv)
    jobs = read_sweep(args.sweep) if args.sweep.is_dir() else []
    if not jobs:
        parser.refuse(f"sweep must be a sweep directory with numbered job dirs (got '{args.sweep}')")
    stored = stored_settings(args.sweep)
    metric = args.metric or stored.get("metric", "val/loss")
    mode = args.mode or stored.get("mode", "min")
    x, best_over = args.x or stored.get("x"), args.best_over or stored.get("best_over", [])
    along = args.along or stored.get("along", [])
    try:
        check_names(jobs, metric, x, best_over, along, given=args)
        study = read_study(args.sweep, args.storage) if x is None else None
    except ConfigError as error:
        parser.refuse(error)
    rows = summarize(jobs, metric, mode)
    with one_line_errors(parser.prog):  # a sweep dir on a full disk
        write_reports(args.sweep, jobs, rows, metric)
        if study is not None:
            objectives = stored_objectives(args.sweep) or [metric]
            write_search(args.sweep, study, objectives)
            print_table(rows, metric, f"{args.sweep}: a search of {len(jobs)} trials")
        elif x is not None:
            points = curves(jobs, metric, mode, x, best_over, along)
            columns_by = x if x in jobs[0].swept else ", ".join(along) or "run"
            write_curves(args.sweep, points, metric, x, columns_by)
            print_curves(points, metric, x, f"{args.sweep}: {len(jobs)} jobs", columns_by)
        else:
            print_table(rows, metric, f"{args.sweep}: {len(jobs)} jobs")
    for job in (j for j in jobs if j.status not in ("ok", "pruned")):
        print(f"job {job.name} ({job.configuration}, seed {job.seed or '-'}): {unfinished(job, args.sweep)}")
    print(f"wrote {args.sweep / 'report.csv'}, report.md, report.png")


def check_names(jobs: list[Job], metric: str, x, best_over: list[str], along: list[str], given) -> None:
    """The metric and keys the report reads, against what the jobs wrote and swept: a name no
    job has would be an empty column. Each is named by its flag (the sweep's stored
    ``report`` settings fill the flags left out)."""
    written = sorted({k for j in jobs if j.status == "ok" for k, v in j.metrics.items() if _numeric(v)})
    swept = [k for k in jobs[0].swept if not k.startswith(IGNORED)]

    def listed(names: list[str]) -> str:
        return ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")

    def source(flag: str) -> str:
        return "" if getattr(given, flag) else " (from the sweep's config)"

    if written and metric not in written:
        raise ConfigError(
            "--metric",
            f"a metric the sweep's finished jobs wrote{did_you_mean(metric, written)}",
            metric,
            f"they wrote {listed(written)}{source('metric')}",
        )
    for flag, keys in (("best_over", best_over), ("along", along)):
        for key in keys:
            if key not in swept:
                raise ConfigError(
                    f"--{flag.replace('_', '-')}",
                    f"a key the sweep swept{did_you_mean(key, swept)}",
                    key,
                    f"swept: {listed(swept) or 'none'}{source(flag)}",
                )
    along_a_line = x in written and along
    if x is not None and not ((x in swept and numeric(jobs, x)) or (x not in swept and along_a_line)):
        raise ConfigError(
            "--x",
            "a swept key with numeric values, or a metric the runs wrote with --along naming the "
            f"swept keys that move a point along a line{did_you_mean(x, [*swept, *written])}",
            x,
            f"swept: {listed(swept) or 'none'}{source('x')}",
        )


def unfinished(job: Job, sweep: Path) -> str:
    """Why a job has no result, and for an interrupted one how to continue it."""
    if job.status == "interrupted":
        phase, signal = job.metrics.get("phase", "a run"), job.metrics.get("signal", "a signal")
        return (
            f"interrupted during {phase} by {signal}; continue it with rnnlab-train resume={sweep / job.name}"
        )
    if job.status == "missing":
        return "unfinished: no metrics.json (it never started, or its process was killed outright)"
    return f"{job.status}: {job.metrics.get('error', '')}"


def _numeric(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_study(sweep: Path, storage: str | None):
    """The search's study, or None for a sweep that is not a search. A study that does not
    read is a mistake when ``--storage`` named it; the sweep dir's own (a sweep dir is
    someone's files) is reported as a sweep, with a line saying why."""
    import sys

    from rnnlab.errors import first_line
    from rnnlab.search import stored_study

    try:
        return stored_study(sweep, storage)
    except ConfigError as error:
        if storage is None:
            raise
        raise ConfigError("--storage", error.allowed, error.got, error.detail) from None
    except Exception as error:
        if storage is not None:
            raise ConfigError(
                "--storage",
                "an Optuna storage that holds this search (a .journal file or a database URL)",
                storage,
                first_line(error),
            ) from None
        print(f"rnnlab-report: not read as an Optuna study ({first_line(error)}): {sweep}", file=sys.stderr)
        return None


if __name__ == "__main__":
    main()
