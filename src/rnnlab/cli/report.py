"""rnnlab-report: one table (and a plot) for a whole sweep.

    rnnlab-report outputs/multirun/<stamp> [--metric val/loss_best] [--mode min]

Reads every job's overrides (.hydra/overrides.yaml) and metrics.json, and writes into the
sweep dir report.csv (a row per job), report.md (jobs, then mean +- std over seeds per
configuration, best first) and report.png (the metric per configuration, with error bars).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

IGNORED = ("seed", "hydra.", "callbacks.rich_progress_bar")


@dataclass
class Job:
    name: str
    overrides: list[str]
    metrics: dict = field(default_factory=dict)
    swept: tuple[str, ...] = ()  # the override keys whose values differ between jobs

    @property
    def status(self) -> str:
        return str(self.metrics.get("status", "missing" if not self.metrics else "ok"))

    @property
    def seed(self) -> str:
        return next((o.split("=", 1)[1] for o in self.overrides if o.startswith("seed=")), "")

    @property
    def configuration(self) -> str:
        """The swept overrides without the seed: jobs that differ only by seed are repeats."""
        kept = [o for o in self.overrides if _key(o) in self.swept and not _key(o).startswith(IGNORED)]
        return " ".join(kept) or "(defaults)"


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _read(path: Path, parse, empty):
    """A job file parsed, ``empty()`` when absent; a file that does not parse (a sweep dir is
    someone's files) reads as None, which the caller turns into an unreadable job."""
    if not path.is_file():
        return empty()
    try:
        return parse(path.read_text(errors="replace"))
    except (ValueError, yaml.YAMLError):
        return None


def read_sweep(sweep: Path) -> list[Job]:
    jobs = []
    for job_dir in sorted(
        (p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
    ):
        overrides = _read(job_dir / ".hydra" / "overrides.yaml", yaml.safe_load, list)
        metrics = _read(job_dir / "metrics.json", json.loads, dict)
        if not isinstance(metrics, dict):
            metrics = {"status": "unreadable", "error": "metrics.json is not a JSON object of metrics"}
        jobs.append(
            Job(job_dir.name, [str(o) for o in overrides] if isinstance(overrides, list) else [], metrics)
        )
    values: dict[str, set[str]] = {}
    for job in jobs:
        for override in job.overrides:
            values.setdefault(_key(override), set()).add(override)
    swept = tuple(key for key, seen in values.items() if len(seen) > 1 or len(jobs) == 1)
    for job in jobs:
        job.swept = swept
    return jobs


def default_metric(sweep: Path) -> str:
    for config in sorted(sweep.glob("*/.hydra/config.yaml")):
        stored = _read(config, yaml.safe_load, dict)
        metric = stored.get("optimized_metric") if isinstance(stored, dict) else None
        if isinstance(metric, str) and metric:
            return metric
    return "val/loss"


def _value(job: Job, metric: str) -> float | None:
    value = job.metrics.get(metric)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def summarize(jobs: list[Job], metric: str, mode: str) -> list[dict]:
    """Mean and std of ``metric`` over the ok jobs of each configuration, best first."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.configuration, []).append(job)
    rows = []
    for configuration, members in groups.items():
        values = [v for v in (_value(j, metric) for j in members) if v is not None]
        rows.append(
            {
                "configuration": configuration,
                "runs": len(members),
                "ok": len(values),
                "mean": statistics.fmean(values) if values else math.nan,
                "std": statistics.stdev(values) if len(values) > 1 else 0.0 if values else math.nan,
            }
        )
    sign = 1 if mode == "min" else -1
    return sorted(rows, key=lambda r: (r["ok"] == 0, sign * r["mean"] if r["ok"] else 0.0))


def _fmt(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def write_reports(sweep: Path, jobs: list[Job], rows: list[dict], metric: str) -> None:
    with (sweep / "report.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["job", "configuration", "seed", "status", metric, "error"])
        for job in jobs:
            error = str(job.metrics.get("error", ""))
            writer.writerow(
                [job.name, job.configuration, job.seed, job.status, _fmt(_value(job, metric)), error]
            )

    lines = [f"# Sweep report: {sweep.name}", "", f"Metric: `{metric}`, best first.", ""]
    lines += ["| configuration | runs | ok | mean | std |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['configuration']} | {r['runs']} | {r['ok']} | {_fmt(r['mean'])} | {_fmt(r['std'])} |"
        for r in rows
    ]
    lines += ["", "| job | configuration | seed | status | " + metric + " |", "|---|---|---|---|---|"]
    lines += [
        f"| {j.name} | {j.configuration} | {j.seed} | {j.status} | {_fmt(_value(j, metric))} |" for j in jobs
    ]
    (sweep / "report.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    plotted = [r for r in rows if r["ok"]]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(plotted) + 1.5))
    ax.barh(
        range(len(plotted)),
        [r["mean"] for r in plotted],
        xerr=[r["std"] for r in plotted],
        color="tab:blue",
        alpha=0.7,
        capsize=4,
    )
    ax.set_yticks(range(len(plotted)), [r["configuration"] for r in plotted], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} (mean +- std over seeds)")
    fig.tight_layout()
    fig.savefig(sweep / "report.png", dpi=100)
    plt.close(fig)


def print_table(rows: list[dict], metric: str, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("configuration", "runs", "ok", f"{metric} mean", "std"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for r in rows:
        table.add_row(r["configuration"], str(r["runs"]), str(r["ok"]), _fmt(r["mean"]), _fmt(r["std"]))
    Console().print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rnnlab-report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="a sweep directory: outputs/multirun/<stamp>")
    parser.add_argument("--metric", help="a metrics.json key (default: the sweep's optimized_metric)")
    parser.add_argument("--mode", choices=("min", "max"), default="min", help="which way is better")
    args = parser.parse_args(argv)
    jobs = read_sweep(args.sweep) if args.sweep.is_dir() else []
    if not jobs:
        message = f"sweep must be a sweep directory with numbered job dirs (got '{args.sweep}')"
        print(f"rnnlab-report: error: {message}", file=sys.stderr)
        sys.exit(2)
    metric = args.metric or default_metric(args.sweep)
    rows = summarize(jobs, metric, args.mode)
    write_reports(args.sweep, jobs, rows, metric)
    print_table(rows, metric, f"{args.sweep}: {len(jobs)} jobs")
    failed = [j for j in jobs if j.status != "ok"]
    for job in failed:
        error = job.metrics.get("error", "")
        print(f"job {job.name} ({job.configuration}, seed {job.seed or '-'}): {job.status}: {error}")
    print(f"wrote {args.sweep / 'report.csv'}, report.md, report.png")


if __name__ == "__main__":
    main()
