"""quality: how good the default config gets within a fixed training time (the fit alone,
``budget``): sine test MSE after 5 and 15 s, text val/loss after 60 s."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from rnnlab.bench.common import print_table, rnnlab_train, run_timed

REPEATS = 1
BUDGETS = {"sine": [5, 15], "text": [60]}

QUALITY = {
    # task: (overrides, the metric that says how good the model got)
    "sine": ([], "test/mse"),
    "text": (["data=text", "trainer.limit_val_batches=20", "trainer.limit_test_batches=20"], "val/loss_best"),
}


def measure(repeats: int, budgets: dict[str, list[int]] | None = None) -> dict:
    """Train each task for fixed wall-clock budgets (``budget``, the fit alone)
    with the default config otherwise, and read the metric from metrics.json; ``repeats``
    runs of each budget in a row."""
    train = rnnlab_train()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task, seconds in (budgets or BUDGETS).items():
            overrides, metric = QUALITY[task]
            for budget, repeat in ((b, r) for b in seconds for r in range(repeats)):
                run = Path(tmp) / f"{task}_{budget}_{repeat}"
                command = [
                    train,
                    *overrides,
                    f"budget={budget}s",
                    "callbacks.early_stopping=null",
                    "callbacks.rich_progress_bar=null",
                    f"hydra.run.dir={run}",
                ]
                wall = run_timed(command)
                metrics = json.loads((run / "metrics.json").read_text())
                rows.append(
                    {
                        "task": task,
                        "budget_s": budget,
                        "metric": metric,
                        "value": metrics[metric],
                        "naive": metrics.get("test/naive_mse"),
                        "command_s": wall,
                    }
                )
    return {"runs": rows}


def show(result: dict) -> None:
    rows = [
        [
            row["task"],
            str(row["budget_s"]),
            row["metric"],
            f"{row['value']:.4g}",
            "" if row["naive"] is None else f"{row['naive']:.4g}",
            f"{row['command_s']:.1f}",
        ]
        for row in result["runs"]
    ]
    columns = ["task", "budget s", "metric", "value", "naive", "whole command s"]
    print_table("quality after a fixed training time (budget)", columns, rows, left=3)
