"""loader: one epoch of training batches from the data modules' own loaders (whole batches
gathered by one indexing op: TensorBatches / TokenWindows ``__getitems__``) against
``DataLoader(TensorDataset(...))`` over the same windows, which fetches item by item and
collates; samples per second, alternating, medians; the sine task and the text task
(built-in corpus, 128-character windows)."""

from __future__ import annotations

import statistics
import time

from rnnlab.bench.common import print_table

REPEATS = 7


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
        from rnnlab.data.sine import SineDataModule

        data = SineDataModule()
    else:
        from rnnlab.data.text import CharTextDataModule

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


def measure(repeats: int) -> dict:
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


def show(result: dict) -> None:
    rows = [
        [
            row["task"],
            str(row["batch_size"]),
            f"{row['rnnlab_samples_per_s']:,.0f}",
            f"{row['per_item_samples_per_s']:,.0f}",
            f"{row['ratio']:.1f}x",
        ]
        for row in result["tasks"]
    ]
    columns = ["task", "batch", "rnnlab", "per-item DataLoader", "rnnlab/per-item"]
    print_table(f"training batches, samples/s, median of {result['repeats']}", columns, rows)
    print("rnnlab/per-item: " + ", ".join(f"{r['task']} {r['ratio']:.1f}x" for r in result["tasks"]))
