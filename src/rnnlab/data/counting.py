"""Counting: given ``window`` consecutive terms of an arithmetic progression, predict the next.

3, 4, 5, 6, 7 -> 8 is the classic exercise; steps [1, 2, 3] mix progressions such as
10, 12, 14, 16, 18 -> 20. Sequences start inside ``train_range`` for train / val / test
(each start held out in one split only) and inside ``extrapolate_range`` for
``test_extrapolate``: numbers the model never saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from rnnlab.data.base import BatchSize, Horizon, RolloutSteps, Seed, Splits, Window, WindowDataModule, Workers
from rnnlab.data.spec import Scaling, TaskSpec
from rnnlab.data.windowing import SPLITS, TensorBatches, split_bounds
from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError


def _check_range(setting: str, value: Sequence[int]) -> tuple[int, int]:
    if len(value) != 2 or any(not isinstance(v, int) for v in value) or value[1] <= value[0]:
        raise ConfigError(setting, "[low, high) with integers low < high", list(value))
    return int(value[0]), int(value[1])


class CountingDataModule(WindowDataModule):
    """Arithmetic progressions as (window, next values) pairs, in original units.

    normalization "relative" scales every window relative to its last value (divided by the
    largest step), so 1000..1004 looks exactly like 0..4 to the model and counting carries
    over beyond the trained range. "global" is the textbook min-max scaling fitted on the
    train split, which maps unseen numbers outside [0, 1] and breaks there.
    """

    @declared
    def __init__(
        self,
        window: Window = 5,
        steps: Annotated[
            int | Sequence[int],
            Field(
                description="the progressions' step, or a list of steps",
                json_schema_extra={"allowed": "a non-zero integer or a list of them"},
            ),
        ] = 1,
        train_range: Annotated[
            Sequence[int],
            Field(
                description="the numbers trained on: starts in [low, high)",
                json_schema_extra={"allowed": "[low, high) with integers low < high"},
            ),
        ] = (0, 1000),
        extrapolate_range: Annotated[
            Sequence[int],
            Field(
                description="the numbers of the extrapolation test split",
                json_schema_extra={"allowed": "[low, high) with integers low < high"},
            ),
        ] = (1000, 2000),
        normalization: Annotated[
            Literal["relative", "global"],
            Field(description="relative: each window scaled to its last value; global: min-max on train"),
        ] = "relative",
        splits: Splits = (0.8, 0.1, 0.1),
        horizon: Horizon = 1,
        rollout_steps: RolloutSteps = 5,
        batch_size: BatchSize = 64,
        seed: Seed = 0,
        num_workers: Workers = 0,
    ) -> None:
        super().__init__(window, horizon, rollout_steps, batch_size, splits, num_workers, seed)
        self.steps = [steps] if isinstance(steps, int) else list(steps)
        if not self.steps or any(isinstance(s, bool) or not isinstance(s, int) or s == 0 for s in self.steps):
            raise ConfigError("steps", "a non-zero integer or a list of them", steps)
        self.train_range = _check_range("train_range", train_range)
        self.extrapolate_range = _check_range("extrapolate_range", extrapolate_range)
        self.normalization = normalization
        self.scaling: Scaling | None = None

    def _progressions(self, starts: np.ndarray, steps: np.ndarray, targets: int) -> TensorBatches:
        positions = np.arange(self.window + targets)
        values = starts[:, None] + steps[:, None] * positions
        values = torch.from_numpy(values.astype(np.float32))[..., None]  # one column
        return TensorBatches(values[:, : self.window].contiguous(), values[:, self.window :].contiguous())

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        low, high = self.train_range
        pairs = np.array([(s, d) for s in range(low, high) for d in self.steps], dtype=np.int64)
        pairs = pairs[np.random.default_rng(self.seed).permutation(len(pairs))]
        datasets = {}  # kept only once every split is made (a failed setup leaves none)
        for name, (start, stop) in zip(SPLITS, split_bounds(len(pairs), self.splits), strict=True):
            if stop == start:
                raise ConfigError(
                    "train_range",
                    f"wide enough that every split gets a sequence ({len(pairs)} in all)",
                    [low, high],
                )
            targets = self.rollout_steps if name == "test" else self.horizon
            datasets[name] = self._progressions(pairs[start:stop, 0], pairs[start:stop, 1], targets)
        low, high = self.extrapolate_range
        outside = np.array([(s, d) for s in range(low, high) for d in self.steps], dtype=np.int64)
        datasets["test_extrapolate"] = self._progressions(outside[:, 0], outside[:, 1], self.rollout_steps)

        if self.normalization == "relative":
            self.scaling = Scaling("last", 0.0, float(max(abs(s) for s in self.steps)))
        else:
            train = torch.cat([t.flatten() for t in datasets["train"].tensors])
            lowest, highest = float(train.min()), float(train.max())
            self.scaling = Scaling("global", lowest, highest - lowest)
        self.datasets = datasets

    def task_spec(self) -> TaskSpec:
        return TaskSpec(
            objective="regression",
            input_size=1,
            output_size=self.horizon,
            scaling=self.scaling,
            rollout_steps=self.rollout_steps,
            integer_targets=True,
            test_splits=("test", "test_extrapolate"),
            window=self.window,
        )
