"""A sweep's jobs read back: their overrides and metrics.json, grouped into configurations
(the swept overrides without the seed), summarized over seeds, or drawn as curves against
one swept key. A sweep dir is someone's files: every file is parsed as data, and one that
does not parse makes its job ``unreadable``."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rnnlab.errors import ConfigError
from rnnlab.search import objectives

IGNORED = ("seed", "hydra.", "callbacks.rich_progress_bar", "trial")


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
    """metric, mode, x, best_over and along as the first job's config stored them (``report``,
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
            "along": report.get("along"),
        }
        kept = {k: v for k, v in settings.items() if isinstance(v, str) and v}
        if kept.get("mode") not in (None, "min", "max"):
            del kept["mode"]
        for name in ("best_over", "along"):
            keys = settings[name]
            if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
                kept[name] = keys
        return kept
    return {}


def stored_objectives(sweep: Path) -> list[str]:
    """The optimized metrics as a search's jobs stored them (several for several objectives)."""
    for config in sorted(sweep.glob("*/.hydra/config.yaml")):
        stored = _read(config, yaml.safe_load, dict)
        if isinstance(stored, dict):
            try:
                return objectives(stored)[0]
            except ConfigError:  # someone's file: report the sweep by the given metric
                continue
    return []


def _first(value):
    """The first of a list (a search of several objectives reports on its first), else the value."""
    return value[0] if isinstance(value, list) and value else value


def value(job: Job, metric: str) -> float | None:
    value = job.metrics.get(metric)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _over_seeds(members: list[Job], metric: str) -> dict:
    """runs, ok (jobs with a finite value), and the mean and std of ``metric`` over them."""
    values = [v for v in (value(j, metric) for j in members) if v is not None]
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


def numeric(jobs: list[Job], key: str) -> bool:
    """Whether every job sets ``key`` to a number (a key to plot a metric against)."""
    return all(_number(_override_value(job, key)) is not None for job in jobs)


def baseline_key(metric: str) -> str:
    """The memoryless baseline logged beside a metric: test/acc -> test/baseline_acc."""
    split, _, name = metric.rpartition("/")
    return f"{split}/baseline_{name}"


def curves(
    jobs: list[Job], metric: str, mode: str, x: str, best_over: list[str], along: list[str] = ()
) -> list[dict]:
    """The metric against ``x``: one row per point of a line, a line being a configuration
    of the swept keys other than ``x``, the seed, ``best_over`` and ``along``; mean and std
    over seeds, and where ``best_over`` keys are swept, the mean of their best setting at that
    point (``chosen`` names it).

    ``x`` is a swept key with numeric values (a point per value), or a metric of the runs
    (``model/state_size``) whose points are the settings of the ``along`` keys (the width):
    each point then lies at the mean of its runs' values of ``x``. Each row's ``column``
    is what tables list points by: the value of ``x``, or of the ``along`` keys."""
    sign = 1 if mode == "min" else -1
    swept = bool(jobs) and x in jobs[0].swept
    hidden = (x, *best_over, *along)
    groups: dict[tuple[str, float | str, str], list[Job]] = {}
    for job in jobs:
        if swept:
            column = _number(_override_value(job, x))
        else:
            settings = [_override_value(job, key) for key in along]
            number = _number(settings[0]) if len(settings) == 1 else None
            column = number if number is not None else " ".join(str(s) for s in settings)
            column = column if value(job, x) is not None else None
        if column is None:
            continue
        line = " ".join(o for o in job.configuration.split(" ") if _key(o) not in hidden) or "(defaults)"
        chosen = " ".join(o for o in job.overrides if _key(o) in best_over and _key(o) in job.swept)
        groups.setdefault((line, column, chosen), []).append(job)
    best: dict[tuple[str, float | str], dict] = {}
    for (line, column, chosen), members in groups.items():
        baselines = [v for v in (value(j, baseline_key(metric)) for j in members) if v is not None]
        row = {
            "baseline": statistics.fmean(baselines) if baselines else None,
            "line": line,
            "column": column,
            "x": column if swept else statistics.fmean(value(j, x) for j in members),
            "placed": not swept,  # at a metric's value, which tables then show beside the mean
            "chosen": chosen,
            **_over_seeds(members, metric),
        }
        current = best.get((line, column))
        better = row["ok"] and (
            not current or not current["ok"] or sign * row["mean"] < sign * current["mean"]
        )
        if current is None or better:
            best[(line, column)] = row
    return sorted(best.values(), key=lambda r: (r["line"], r["x"]))


def fmt(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def pivot(points: list[dict]) -> tuple[list, dict[str, dict]]:
    """The points' columns in order, and each line's points by column."""
    columns = sorted({p["column"] for p in points}, key=lambda c: (isinstance(c, str), c))
    lines: dict[str, dict] = {}
    for point in points:
        lines.setdefault(point["line"], {})[point["column"]] = point
    return columns, lines


def cell(point: dict | None) -> str:
    if point is None or not point["ok"]:
        return "-"
    # one run has no spread to show: "± 0" would claim seeds that agree
    text = f"{fmt(point['mean'])} ± {fmt(point['std'])}" if point["ok"] > 1 else fmt(point["mean"])
    if point.get("placed"):  # a point at a metric's value: say where
        text += f" @ {fmt(point['x'])}"
    return f"{text} ({point['chosen']})" if point["chosen"] else text
