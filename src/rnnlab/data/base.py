"""What the in-memory data modules share: splits held as tensors, the loaders over them,
and (for the windowed tasks) their common settings, checked once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import lightning as L
from torch.utils.data import DataLoader

from rnnlab.data.spec import TaskSpec
from rnnlab.data.windowing import TensorBatches, batch_loader, data_seed, split_bounds
from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError

# settings many data modules take, declared once
BatchSize = Annotated[int, Field(ge=1, description="sequences per batch")]
Workers = Annotated[int, Field(ge=0, description="loader worker processes (0: batches come from this one)")]
Seed = (
    Annotated[
        int,
        Field(ge=0, le=2**32 - 1, description="draws the data and each epoch's order (${seed}); null: fresh"),
    ]
    | None
)
Window = Annotated[int, Field(ge=1, description="past steps the model reads")]
Horizon = Annotated[int, Field(ge=1, description="steps ahead forecast at once")]
RolloutSteps = Annotated[
    int, Field(ge=1, description="steps of the autoregressive rollout scored at test time (>= horizon)")
]
Splits = Annotated[
    Sequence[float],
    Field(
        min_length=3,
        max_length=3,
        description="train, val and test fractions, in time order",
        json_schema_extra={"allowed": "three fractions that sum to 1 (train and val > 0, test >= 0)"},
    ),
]


@runtime_checkable
class PlansMemory(Protocol):
    """A data module that can say, before it makes its data, how much memory that will take:
    rnnlab's do; one from another package may (else its data is not estimated)."""

    size_setting: str | None  # the setting that sizes the data (named when it would not fit)

    def planned_bytes(self) -> int | None:
        """The bytes ``setup()`` will hold, from the settings alone, or None where only the
        data can tell."""


class InMemoryDataModule(L.LightningDataModule):
    """Splits held as tensors (``self.datasets``: train, val and every name of
    ``spec.test_splits``), served a whole batch at a time. Subclasses fill the splits in
    ``setup()`` and say what the data is in ``task_spec()``; training batches come in a new
    order every epoch, drawn from ``seed``."""

    @declared
    def __init__(self, batch_size: BatchSize, num_workers: Workers, seed: Seed) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = data_seed(seed)
        self.datasets: dict[str, TensorBatches] = {}

    size_setting: str | None = None

    def planned_bytes(self) -> int | None:  # PlansMemory; a subclass that can tell, tells
        return None

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

    @declared
    def __init__(
        self,
        window: Window,
        horizon: Horizon,
        rollout_steps: RolloutSteps,
        batch_size: BatchSize,
        splits: Splits,
        num_workers: Workers,
        seed: Seed,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if rollout_steps < horizon:
            raise ConfigError("rollout_steps", f"an integer >= {horizon}", rollout_steps)
        self.window, self.horizon, self.rollout_steps = window, horizon, rollout_steps
        self.splits = tuple(float(f) for f in splits)
        split_bounds(100, self.splits)  # validates the fractions now, not at setup
