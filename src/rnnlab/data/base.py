"""What the in-memory data modules share: splits held as tensors, the loaders over them,
and (for the windowed tasks) their common settings, checked once."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
from torch.utils.data import DataLoader

from rnnlab.data.spec import TaskSpec
from rnnlab.data.windowing import TensorBatches, batch_loader, data_seed, split_bounds
from rnnlab.errors import check_int


class InMemoryDataModule(L.LightningDataModule):
    """Splits held as tensors (``self.datasets``: train, val and every name of
    ``spec.test_splits``), served a whole batch at a time. Subclasses fill the splits in
    ``setup()`` and say what the data is in ``task_spec()``; training batches come in a new
    order every epoch, drawn from ``seed``."""

    def __init__(self, batch_size: int, num_workers: int, seed: int | None) -> None:
        super().__init__()
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.num_workers = check_int("num_workers", num_workers, 0)
        self.seed = data_seed(seed)
        self.datasets: dict[str, TensorBatches] = {}

    def task_spec(self) -> TaskSpec:
        """The spec of the data ``setup()`` made (called only after it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement task_spec()")

    @property
    def spec(self) -> TaskSpec:
        if not self.datasets:
            raise RuntimeError("call setup() before reading spec")
        return self.task_spec()

    def train_dataloader(self) -> DataLoader:
        return batch_loader(self.datasets["train"], self.batch_size, True, self.num_workers, self.seed)

    def val_dataloader(self) -> DataLoader:
        return batch_loader(self.datasets["val"], self.batch_size, False, self.num_workers)

    def test_dataloader(self) -> DataLoader | list[DataLoader]:
        loaders = [
            batch_loader(self.datasets[name], self.batch_size, False, self.num_workers)
            for name in self.spec.test_splits
        ]
        return loaders[0] if len(loaders) == 1 else loaders


class WindowDataModule(InMemoryDataModule):
    """Pairs of (``window`` inputs, the values that follow). Validation and test targets
    run ``horizon`` and ``rollout_steps`` values ahead."""

    def __init__(
        self,
        window: int,
        horizon: int,
        rollout_steps: int,
        batch_size: int,
        splits: Sequence[float],
        num_workers: int,
        seed: int | None,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.window = check_int("window", window, 1)
        self.horizon = check_int("horizon", horizon, 1)
        self.rollout_steps = check_int("rollout_steps", rollout_steps, self.horizon)
        self.splits = tuple(float(f) for f in splits)
        split_bounds(100, self.splits)  # validates the fractions now, not at setup
