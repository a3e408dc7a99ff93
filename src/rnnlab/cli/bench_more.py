"""`rnnlab-bench loader` and `rnnlab-bench startup`.

loader: one epoch of training batches from the data modules' own loaders (whole batches
gathered by one indexing op: TensorBatches / TokenWindows ``__getitems__``) against
``DataLoader(TensorDataset(...))`` over the same windows, which fetches item by item and
collates; samples per second, alternating, medians; the sine task and the text task
(built-in corpus, 128-character windows).

startup: wall time of ``rnnlab-train --help`` and ``rnnlab-train --cfg job`` (which must
not import torch or Lightning), and of a whole 1-step run (``trainer.max_steps=1``, no
validation or test), an upper bound on the time to the first training step.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _samples_per_second(loader) -> float:
    start, samples = time.perf_counter(), 0
    for x, _ in loader:
        samples += len(x)
    return samples / (time.perf_counter() - start)


def _loaders(task: str):
    """(rnnlab's train loader, the per-item DataLoader over the same windows)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    if task == "sine":
        from rnnlab.data import SineDataModule

        data = SineDataModule()
    else:
        from rnnlab.data import CharTextDataModule

        data = CharTextDataModule()
    data.setup("fit")
    ours = data.train_dataloader()
    dataset = ours.dataset
    x, y = dataset.__getitems__(list(range(len(dataset))))  # every window, materialized
    batches = ours.batch_sampler
    per_item = DataLoader(
        TensorDataset(x.clone(), y.clone()),
        batch_size=batches.batch_size,
        sampler=torch.utils.data.RandomSampler(range(len(dataset)), num_samples=len(batches.sampler)),
    )
    return ours, per_item


def bench_loader(repeats: int) -> dict:
    rows = []
    for task in ("sine", "text"):
        ours, per_item = _loaders(task)
        _samples_per_second(ours), _samples_per_second(per_item)  # warm up
        fast, slow = [], []
        for i in range(repeats):
            pair = [(fast, ours), (slow, per_item)]
            for sink, loader in pair if i % 2 == 0 else reversed(pair):
                sink.append(_samples_per_second(loader))
        fast_median, slow_median = statistics.median(fast), statistics.median(slow)
        rows.append(
            {
                "task": task,
                "batch_size": ours.batch_sampler.batch_size,
                "rnnlab_samples_per_s": fast_median,
                "per_item_samples_per_s": slow_median,
                "ratio": fast_median / slow_median,
                "rnnlab_runs": fast,
                "per_item_runs": slow,
            }
        )
    return {"repeats": repeats, "tasks": rows}


def run_timed(command: list[str]) -> float:
    """Wall seconds of a command that must succeed (else exit with its stderr)."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"rnnlab-bench: error: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def bench_startup(repeats: int) -> dict:
    train = str(Path(sys.executable).parent / "rnnlab-train")
    with tempfile.TemporaryDirectory() as tmp:
        one_step = [
            train,
            "trainer.max_steps=1",
            "trainer.limit_val_batches=0",
            "trainer.num_sanity_val_steps=0",
            "test=false",
            "callbacks.early_stopping=null",
            "callbacks.model_checkpoint.monitor=null",
            "callbacks.gradient_flow=null",
            f"paths.root_dir={tmp}",
        ]
        commands = {"--help": [train, "--help"], "--cfg job": [train, "--cfg", "job"], "1-step run": one_step}
        run_timed(commands["--help"])  # warm the file cache
        times = {name: [run_timed(command) for _ in range(repeats)] for name, command in commands.items()}
    return {
        "repeats": repeats,
        "runs_s": times,
        "median_s": {name: statistics.median(values) for name, values in times.items()},
    }


QUALITY = {
    # task: (overrides, the metric that says how good the model got)
    "sine": ([], "test/mse"),
    "text": (["data=text", "trainer.limit_val_batches=20", "trainer.limit_test_batches=20"], "val/loss_best"),
}


def bench_quality(budgets: dict[str, list[int]]) -> dict:
    """Train each task for fixed wall-clock budgets (``trainer.max_time``, the fit alone)
    with the default config otherwise, and read the metric from metrics.json."""
    import json

    train = str(Path(sys.executable).parent / "rnnlab-train")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task, seconds in budgets.items():
            overrides, metric = QUALITY[task]
            for budget in seconds:
                run = Path(tmp) / f"{task}_{budget}"
                command = [
                    train,
                    *overrides,
                    f"trainer.max_time=00:00:00:{budget:02d}",
                    "trainer.max_epochs=-1",
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
