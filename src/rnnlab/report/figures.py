"""What rnnlab-report writes and prints: report.csv, report.md and report.png for a sweep,
its curves against a swept key, or a search's history and parameter importances."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

from rnnlab.report.sweep import Job, baseline_key, cell, fmt, pivot, value

LABEL_WIDTH = 48  # characters per line of a configuration's label in report.png


def write_reports(sweep: Path, jobs: list[Job], rows: list[dict], metric: str) -> None:
    with (sweep / "report.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["job", "configuration", "seed", "status", metric, "error"])
        for job in jobs:
            error = str(job.metrics.get("error", ""))
            writer.writerow(
                [job.name, job.configuration, job.seed, job.status, fmt(value(job, metric)), error]
            )

    lines = [f"# Sweep report: {sweep.name}", "", f"Metric: `{metric}`, best first.", ""]
    lines += ["| configuration | runs | ok | mean | std |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['configuration']} | {r['runs']} | {r['ok']} | {fmt(r['mean'])} | {fmt(r['std'])} |"
        for r in rows
    ]
    lines += ["", "| job | configuration | seed | status | " + metric + " |", "|---|---|---|---|---|"]
    lines += [
        f"| {j.name} | {j.configuration} | {j.seed} | {j.status} | {fmt(value(j, metric))} |" for j in jobs
    ]
    (sweep / "report.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import textwrap

    from matplotlib import pyplot as plt

    plotted = [r for r in rows if r["ok"]]
    labels = [textwrap.fill(r["configuration"], LABEL_WIDTH) for r in plotted]
    height = sum(0.22 * (label.count("\n") + 1) + 0.18 for label in labels)
    fig, ax = plt.subplots(figsize=(10, height + 1.2))
    ax.barh(
        range(len(plotted)),
        [r["mean"] for r in plotted],
        xerr=[r["std"] for r in plotted],
        color="tab:blue",
        alpha=0.7,
        capsize=4,
    )
    ax.set_yticks(range(len(plotted)), labels, fontsize="small")
    ax.invert_yaxis()
    baselines = [v for v in (value(j, baseline_key(metric)) for j in jobs) if v is not None]
    if baselines:
        baseline = statistics.fmean(baselines)
        ax.axvline(baseline, color="k", linestyle="--", alpha=0.5, label="memoryless baseline")
        ax.legend(fontsize="small", loc="lower right")
    ax.set_xlabel(f"{metric} (mean +- std over seeds)")
    fig.tight_layout()
    fig.savefig(sweep / "report.png", dpi=100, bbox_inches="tight")  # labels whole, however long
    plt.close(fig)


def _label(column) -> str:
    return f"{column:g}" if isinstance(column, float) else str(column)


def write_curves(sweep: Path, points: list[dict], metric: str, x: str, columns_by: str) -> None:
    """report.md gains the curves' table (lines by ``columns_by``: x, or the keys that move
    a point along a line); report.png becomes the metric against ``x``."""
    columns, lines = pivot(points)
    table = [f"## {metric} against {x} (mean ± std over seeds)", ""]
    table += [
        f"| line \\ {columns_by} | " + " | ".join(map(_label, columns)) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    table += [
        f"| {line} | " + " | ".join(cell(row.get(c)) for c in columns) + " |" for line, row in lines.items()
    ]
    markdown = sweep / "report.md"
    markdown.write_text(markdown.read_text() + "\n" + "\n".join(table) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for line, row in lines.items():
        kept = sorted((p for p in row.values() if p["ok"]), key=lambda p: p["x"])
        if not kept:
            continue
        position = [p["x"] for p in kept]
        mean = [p["mean"] for p in kept]
        std = [p["std"] for p in kept]
        ax.errorbar(position, mean, yerr=std, marker="o", capsize=3, label=line)
    baseline = {}
    for point in points:
        if point["baseline"] is not None:
            baseline.setdefault(point["x"], []).append(point["baseline"])
    if baseline:
        at = sorted(baseline)
        means = [statistics.fmean(baseline[v]) for v in at]
        ax.plot(at, means, "k--", alpha=0.5, label="memoryless baseline")
    xs = sorted({p["x"] for p in points})
    if xs and min(xs) > 0 and max(xs) / min(xs) >= 8:
        ax.set_xscale("log", base=2)
    means = [p["mean"] for p in points if p["ok"]]
    if means and min(means) > 0 and max(means) / min(means) >= 100:  # errors over decades
        ax.set_yscale("log")
    if len(xs) <= 12:  # a swept key's few values; a metric's many fall on the scale's own ticks
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
        ax.minorticks_off()
    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    fig.savefig(sweep / "report.png", dpi=100, bbox_inches="tight")  # labels whole, however long
    plt.close(fig)


def write_search(sweep: Path, study, metrics: list[str]) -> None:
    """report.png for a search: the optimization history (each trial's value and the best so
    far; for two objectives the trials against both, Pareto front marked) beside the
    parameters' importances, which report.md lists too."""
    import matplotlib
    import optuna
    from optuna.trial import TrialState

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    single = len(study.directions) == 1
    importances = {}
    if single and len(done) >= 2 and any(t.distributions for t in done):
        importances = optuna.importance.get_param_importances(study)
    fig, (history, bars) = plt.subplots(1, 2, figsize=(13, 4.8), width_ratios=[3, 2])
    if single:
        minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
        history.scatter([t.number for t in done], [t.value for t in done], s=18, label="trial")
        if pruned:
            last = [t for t in pruned if t.intermediate_values]
            history.scatter(
                [t.number for t in last],
                [t.intermediate_values[max(t.intermediate_values)] for t in last],
                s=18,
                marker="x",
                color="tab:gray",
                label="pruned (its last report)",
            )
        best, line = None, []
        for trial in sorted(done, key=lambda t: t.number):
            if best is None or (trial.value < best if minimize else trial.value > best):
                best = trial.value
            line.append((trial.number, best))
        if line:
            history.step(*zip(*line, strict=True), where="post", color="tab:red", label="best so far")
        history.set_xlabel("trial")
        history.set_ylabel(metrics[0])
        history.set_title("optimization history")
        values = [t.value for t in done]
        if values and min(values) > 0 and max(values) / min(values) >= 100:
            history.set_yscale("log")
    else:
        front = {t.number for t in study.best_trials}
        for on_front in (False, True):
            chosen = [t for t in done if (t.number in front) == on_front]
            history.scatter(
                [t.values[0] for t in chosen],
                [t.values[1] for t in chosen],
                s=22,
                color="tab:red" if on_front else "tab:blue",
                label="Pareto front" if on_front else "trial",
            )
        history.set_xlabel(metrics[0])
        history.set_ylabel(metrics[1] if len(metrics) > 1 else "objective 2")
        history.set_title("trials on both objectives")
    history.grid(alpha=0.3)
    history.legend(fontsize="small")
    if importances:
        names = list(importances)[::-1]
        bars.barh(range(len(names)), [importances[n] for n in names], color="tab:blue", alpha=0.7)
        bars.set_yticks(range(len(names)), names, fontsize="small")
        bars.set_xlabel(f"importance for {metrics[0]} (fANOVA)")
    else:
        bars.text(
            0.5, 0.5, "importances need two finished trials\nof one objective", ha="center", va="center"
        )
        bars.set_axis_off()
    bars.set_title("parameter importances")
    counts = {s.name.lower(): len(study.get_trials(deepcopy=False, states=(s,))) for s in TrialState}
    counts = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    fig.suptitle(f"{sweep.name}: study {study.study_name} ({counts})", fontsize="medium")
    fig.tight_layout()
    fig.savefig(sweep / "report.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    if importances:
        table = ["", "## Parameter importances (fANOVA)", "", "| parameter | importance |", "|---|---|"]
        table += [f"| {name} | {value:.3f} |" for name, value in importances.items()]
        markdown = sweep / "report.md"
        markdown.write_text(markdown.read_text() + "\n".join(table) + "\n")


def print_curves(points: list[dict], metric: str, x: str, title: str, columns_by: str) -> None:
    from rich.console import Console
    from rich.table import Table

    columns, lines = pivot(points)
    table = Table(title=f"{title}: {metric} against {x}", title_justify="left")
    table.add_column(f"line \\ {columns_by}")
    for column in columns:
        table.add_column(_label(column), justify="right")  # the key is in the title: short columns fit
    for line, row in lines.items():
        table.add_row(line, *(cell(row.get(c)) for c in columns))
    Console().print(table)


def print_table(rows: list[dict], metric: str, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("configuration", "runs", "ok", f"{metric} mean", "std"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for r in rows:
        table.add_row(r["configuration"], str(r["runs"]), str(r["ok"]), fmt(r["mean"]), fmt(r["std"]))
    Console().print(table)
