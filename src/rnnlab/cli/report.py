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
import csv
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

IGNORED = ("seed", "hydra.", "callbacks.rich_progress_bar", "trial")
LABEL_WIDTH = 48  # characters per line of a configuration's label in report.png


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
        return " ".join(_rounded(o) for o in kept) or "(defaults)"


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _rounded(override: str) -> str:
    """``optimizer.lr=0.00014492412389916873`` -> ``optimizer.lr=0.000145``: a search draws
    floats to 17 digits, a reader compares three."""
    key, _, value = override.partition("=")
    try:
        number = float(value)
    except ValueError:
        return override
    return override if value.lstrip("-").isdigit() else f"{key}={number:.3g}"


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


def stored_settings(sweep: Path) -> dict:
    """metric, mode, x and best_over as the first job's config stored them (``report``,
    ``optimized_metric``, ``optimized_mode``), each only when it has the right type: a sweep
    dir is someone's files."""
    for config in sorted(sweep.glob("*/.hydra/config.yaml")):
        stored = _read(config, yaml.safe_load, dict)
        if not isinstance(stored, dict):
            continue
        report = stored.get("report") if isinstance(stored.get("report"), dict) else {}
        settings = {
            "metric": report.get("metric") or _first(stored.get("optimized_metric")),
            "mode": report.get("mode") or _first(stored.get("optimized_mode")),
            "x": report.get("x"),
            "best_over": report.get("best_over"),
        }
        kept = {k: v for k, v in settings.items() if isinstance(v, str) and v}
        if kept.get("mode") not in (None, "min", "max"):
            del kept["mode"]
        best_over = settings["best_over"]
        if isinstance(best_over, list) and all(isinstance(k, str) for k in best_over):
            kept["best_over"] = best_over
        return kept
    return {}


def stored_objectives(sweep: Path) -> list[str]:
    """The optimized metrics as a search's jobs stored them (several for several objectives)."""
    for config in sorted(sweep.glob("*/.hydra/config.yaml")):
        stored = _read(config, yaml.safe_load, dict)
        metric = stored.get("optimized_metric") if isinstance(stored, dict) else None
        metrics = metric if isinstance(metric, list) else [metric]
        if all(isinstance(m, str) and m for m in metrics):
            return metrics
    return []


def _first(value):
    """The first of a list (a search of several objectives reports on its first), else the value."""
    return value[0] if isinstance(value, list) and value else value


def default_metric(sweep: Path) -> str:
    return stored_settings(sweep).get("metric", "val/loss")


def _value(job: Job, metric: str) -> float | None:
    value = job.metrics.get(metric)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _over_seeds(members: list[Job], metric: str) -> dict:
    """runs, ok (jobs with a finite value), and the mean and std of ``metric`` over them."""
    values = [v for v in (_value(j, metric) for j in members) if v is not None]
    return {
        "runs": len(members),
        "ok": len(values),
        "mean": statistics.fmean(values) if values else math.nan,
        "std": statistics.stdev(values) if len(values) > 1 else 0.0 if values else math.nan,
    }


def summarize(jobs: list[Job], metric: str, mode: str) -> list[dict]:
    """Mean and std of ``metric`` over the ok jobs of each configuration, best first."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.configuration, []).append(job)
    rows = []
    for configuration, members in groups.items():
        rows.append({"configuration": configuration, **_over_seeds(members, metric)})
    sign = 1 if mode == "min" else -1
    return sorted(rows, key=lambda r: (r["ok"] == 0, sign * r["mean"] if r["ok"] else 0.0))


def _override_value(job: Job, key: str) -> str | None:
    return next((o.split("=", 1)[1] for o in job.overrides if _key(o) == key), None)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _baseline_key(metric: str) -> str:
    """The memoryless baseline logged beside a metric: test/acc -> test/baseline_acc."""
    split, _, name = metric.rpartition("/")
    return f"{split}/baseline_{name}"


def curves(jobs: list[Job], metric: str, mode: str, x: str, best_over: list[str]) -> list[dict]:
    """The metric against the swept key ``x``: one row per (line, x value), a line being
    a configuration of the swept keys other than ``x``, the seed and ``best_over``; mean
    and std over seeds, and where ``best_over`` keys are swept, the mean of their best
    setting at that point (``chosen`` names it)."""
    sign = 1 if mode == "min" else -1
    groups: dict[tuple[str, float, str], list[Job]] = {}
    for job in jobs:
        position = _number(_override_value(job, x))
        if position is None:
            continue
        hidden = (x, *best_over)
        line = " ".join(o for o in job.configuration.split(" ") if _key(o) not in hidden) or "(defaults)"
        chosen = " ".join(o for o in job.overrides if _key(o) in best_over and _key(o) in job.swept)
        groups.setdefault((line, position, chosen), []).append(job)
    best: dict[tuple[str, float], dict] = {}
    for (line, position, chosen), members in groups.items():
        baselines = [v for v in (_value(j, _baseline_key(metric)) for j in members) if v is not None]
        row = {
            "baseline": statistics.fmean(baselines) if baselines else None,
            "line": line,
            "x": position,
            "chosen": chosen,
            **_over_seeds(members, metric),
        }
        current = best.get((line, position))
        better = row["ok"] and (
            not current or not current["ok"] or sign * row["mean"] < sign * current["mean"]
        )
        if current is None or better:
            best[(line, position)] = row
    return sorted(best.values(), key=lambda r: (r["line"], r["x"]))


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
    baselines = [v for v in (_value(j, _baseline_key(metric)) for j in jobs) if v is not None]
    if baselines:
        baseline = statistics.fmean(baselines)
        ax.axvline(baseline, color="k", linestyle="--", alpha=0.5, label="memoryless baseline")
        ax.legend(fontsize="small", loc="lower right")
    ax.set_xlabel(f"{metric} (mean +- std over seeds)")
    fig.tight_layout()
    fig.savefig(sweep / "report.png", dpi=100, bbox_inches="tight")  # labels whole, however long
    plt.close(fig)


def _pivot(points: list[dict]) -> tuple[list[float], dict[str, dict[float, dict]]]:
    xs = sorted({p["x"] for p in points})
    lines: dict[str, dict[float, dict]] = {}
    for point in points:
        lines.setdefault(point["line"], {})[point["x"]] = point
    return xs, lines


def _cell(point: dict | None) -> str:
    if point is None or not point["ok"]:
        return "-"
    # one run has no spread to show: "± 0" would claim seeds that agree
    text = f"{_fmt(point['mean'])} ± {_fmt(point['std'])}" if point["ok"] > 1 else _fmt(point["mean"])
    return f"{text} ({point['chosen']})" if point["chosen"] else text


def write_curves(sweep: Path, points: list[dict], metric: str, x: str) -> None:
    """report.md gains the curves' table; report.png becomes the metric against ``x``."""
    xs, lines = _pivot(points)
    table = [f"## {metric} against {x} (mean ± std over seeds)", ""]
    table += [f"| line \\ {x} | " + " | ".join(f"{v:g}" for v in xs) + " |", "|---" * (len(xs) + 1) + "|"]
    table += [
        f"| {line} | " + " | ".join(_cell(row.get(v)) for v in xs) + " |" for line, row in lines.items()
    ]
    markdown = sweep / "report.md"
    markdown.write_text(markdown.read_text() + "\n" + "\n".join(table) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for line, row in lines.items():
        kept = [row[v] for v in xs if v in row and row[v]["ok"]]
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
    if xs and min(xs) > 0 and max(xs) / min(xs) >= 8:
        ax.set_xscale("log", base=2)
    means = [p["mean"] for p in points if p["ok"]]
    if means and min(means) > 0 and max(means) / min(means) >= 100:  # errors over decades
        ax.set_yscale("log")
    ax.set_xticks(xs, [f"{v:g}" for v in xs])
    ax.minorticks_off()
    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    fig.savefig(sweep / "report.png", dpi=100, bbox_inches="tight")  # labels whole, however long
    plt.close(fig)


def read_study(sweep: Path, storage: str | None = None):
    """The Optuna study of a search's sweep dir (its optuna.db or optuna.journal, or
    ``storage``), or None for a sweep that is not a search. An sqlite file is opened read-only:
    reporting never writes to someone's study."""
    import optuna

    if storage is None:
        if (sweep / "optuna.db").is_file():
            storage = f"sqlite:///file:{(sweep / 'optuna.db').resolve()}?mode=ro&uri=true"
        elif (sweep / "optuna.journal").is_file():
            storage = str(sweep / "optuna.journal")
        else:
            return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if storage.endswith(".journal"):
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            opened = JournalStorage(JournalFileBackend(storage))
        else:
            opened = optuna.storages.RDBStorage(storage, skip_table_creation=True)
        names = optuna.get_all_study_names(opened)
        if len(names) != 1:  # rnnlab's sweeper keeps one study per storage
            return None
        return optuna.load_study(study_name=names[0], storage=opened)
    except Exception as error:  # not a study: report the sweep as a sweep
        print(
            f"rnnlab-report: not read as an Optuna study ({type(error).__name__}): {storage}", file=sys.stderr
        )
        return None


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


def print_curves(points: list[dict], metric: str, x: str, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    xs, lines = _pivot(points)
    table = Table(title=f"{title}: {metric} against {x}", title_justify="left")
    table.add_column(f"line \\ {x}")
    for v in xs:
        table.add_column(f"{v:g}", justify="right")  # the key is in the title: short columns fit
    for line, row in lines.items():
        table.add_row(line, *(_cell(row.get(v)) for v in xs))
    Console().print(table)


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
    parser.add_argument(
        "--mode", choices=("min", "max"), help="which way is better (default: the sweep's optimized_mode)"
    )
    parser.add_argument("--x", help="a swept key with numeric values: plot the metric against it")
    parser.add_argument(
        "--storage",
        help="the Optuna storage of a search kept outside its sweep dir (a .journal file or a URL)",
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
    rows = summarize(jobs, metric, mode)
    write_reports(args.sweep, jobs, rows, metric)
    study = read_study(args.sweep, args.storage) if x is None else None
    if study is not None:
        objectives = stored_objectives(args.sweep) or [metric]
        write_search(args.sweep, study, objectives)
        print_table(rows, metric, f"{args.sweep}: a search of {len(jobs)} trials")
    elif x is not None:
        points = curves(jobs, metric, mode, x, best_over)
        if not points:
            swept = ", ".join(k for k in jobs[0].swept if not k.startswith(IGNORED)) or "none"
            _refuse(f"--x must be a swept key with numeric values (got '{x}'; swept: {swept})")
        write_curves(args.sweep, points, metric, x)
        print_curves(points, metric, x, f"{args.sweep}: {len(jobs)} jobs")
    else:
        print_table(rows, metric, f"{args.sweep}: {len(jobs)} jobs")
    failed = [j for j in jobs if j.status not in ("ok", "pruned")]
    for job in failed:
        error = job.metrics.get("error", "")
        print(f"job {job.name} ({job.configuration}, seed {job.seed or '-'}): {job.status}: {error}")
    print(f"wrote {args.sweep / 'report.csv'}, report.md, report.png")


def _refuse(message: str) -> None:
    print(f"rnnlab-report: error: {message}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
