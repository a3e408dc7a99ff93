"""What a run reports: metrics.json, the closing summary table, and the warnings that flag a
result no one should trust (a model worse than a forecast that needs no training)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rnnlab.data.spec import TaskSpec

# A schedule is done when it ran this far through: a step count ends exactly on its end, a
# budget within a tick of it (the step that spends the budget moves the schedule first).
SCHEDULE_DONE = 0.99


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float | str]:
    """Tensors and numbers as plain floats (NaN and inf kept as JSON-compatible strings)."""
    out = {}
    for key, value in metrics.items():
        number = float(value.item() if hasattr(value, "item") else value)
        out[key] = number if math.isfinite(number) else str(number)
    return out


def write_whole(path: Path, text: str) -> None:
    """Write a file whole or not at all: a stop or a full disk mid-write leaves the old file
    (and no half-written one beside it)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_metrics(path: Path, metrics: Mapping[str, Any]) -> None:
    """Write metrics.json whole or not at all."""
    write_whole(path, json.dumps(dict(sorted(metrics.items())), indent=2) + "\n")


def suspect_results(metrics: Mapping[str, Any], spec: TaskSpec, steps: int) -> list[str]:
    """Reasons not to trust a finished run's numbers; empty when there are none.

    A regression model whose error is above the last-value naive forecast's has learned
    less than a rule that needs no training; a memory task's model no better than its
    memoryless baseline has not learned to remember; a language model above ln(vocabulary
    size) predicts worse than a uniform guess. The first split that has the numbers (test, else
    val) decides. A learning-rate schedule cut off before its end (a run stopped by
    trainer.max_time mid-decay) makes the run a poor point of comparison.
    """
    reasons = []
    if steps == 0:
        reasons.append(
            "no optimizer step ran (see trainer.max_steps, trainer.limit_train_batches): untrained"
        )
    progress = metrics.get("schedule/progress")
    if isinstance(progress, float) and progress < SCHEDULE_DONE:
        reasons.append(
            f"the learning-rate schedule stopped at {progress:.0%} of its course, the learning rate "
            f"still {metrics['schedule/final_lr']:.3g}: the run ended first (trainer.max_time, early "
            "stopping); on a `budget` the schedule ends with the run"
        )
    if spec.objective == "regression":
        for split in ("test", "val"):
            model, naive = metrics.get(f"{split}/mse"), metrics.get(f"{split}/naive_mse")
            if isinstance(model, float) and isinstance(naive, float):
                if model > naive:
                    reasons.append(
                        f"{split}/mse {model:.4g} is {model / naive:.3g}x the last-value naive forecast's "
                        f"{naive:.4g}: the model forecasts worse than repeating the last value"
                    )
                break
    elif spec.baselines:
        # the memory tasks: the first of the split's metrics that has a baseline decides
        for split in ("test", "val"):
            for name, higher_is_better in (("acc", True), ("mse", False)):
                model, baseline = metrics.get(f"{split}/{name}"), metrics.get(f"{split}/baseline_{name}")
                if isinstance(model, float) and isinstance(baseline, float):
                    if (model <= baseline) if higher_is_better else (model >= baseline):
                        reasons.append(
                            f"{split}/{name} {model:.4g} is no better than the memoryless baseline's "
                            f"{baseline:.4g}: the model has not learned to remember"
                        )
                    return reasons
    elif spec.objective == "language":
        chance = math.log(len(spec.vocab))
        for split in ("test", "val"):
            loss = metrics.get(f"{split}/loss")
            if isinstance(loss, float):
                if loss > chance:
                    reasons.append(
                        f"{split}/loss {loss:.4g} is above ln(vocabulary size) = {chance:.4g}: the model "
                        "predicts worse than a uniform guess"
                    )
                break
    return reasons


# the metrics of a split the summary shows, in this order (the interval's raw and calibrated
# coverage and width side by side)
SUMMARY_METRICS = (
    "loss", "bpc", "mse", "mae", "exact", "acc", "seq_acc", "pinball", "crps",
    "coverage", "coverage_conformal", "width", "width_conformal",
)  # fmt: skip


def print_summary(metrics: Mapping[str, Any], title: str) -> None:
    """The headline numbers as a table: each split's errors beside its naive baselines,
    then any warning that says the numbers are suspect."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    baselines = [b for b in ("naive", "snaive", "ar", "baseline") if any(f"/{b}_" in key for key in metrics)]
    for column in ["model", *baselines]:
        table.add_column(column, justify="right")
    splits = dict.fromkeys(key.split("/")[0] for key in metrics if key.startswith(("val/", "test")))
    for split in splits:
        for name in SUMMARY_METRICS:
            key = f"{split}/{name}"
            if key in metrics and isinstance(metrics[key], float):
                row = [metrics.get(f"{split}/{b}_{name}") for b in baselines]
                table.add_row(key, f"{metrics[key]:.4g}", *("" if v is None else f"{v:.4g}" for v in row))
    console = Console()
    console.print(table)
    if "model/params" in metrics:
        size = f"model: {metrics['model/params']:,} parameters, width {metrics['model/hidden_size']}"
        if "model/state_size" in metrics:
            size += f", {metrics['model/state_size']:,} numbers of state per layer"
        console.print(size, highlight=False)
    for warning in metrics.get("warnings", []):
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
