"""Forecasting a series of one or more columns: windows, a time-ordered split, train-only
scaling per column, and the linear autoregressive baseline (data/autoregression.py).

``SeriesDataModule`` does the work for any series; subclasses only say where the values
come from (``SineDataModule`` generates them, ``CsvSeriesDataModule`` in data/csv_series.py
reads a CSV file's columns: the targets to forecast and past covariates that only help).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.data.autoregression import linear_autoregression
from rnnlab.data.base import BatchSize, Horizon, RolloutSteps, Seed, Splits, Window, WindowDataModule, Workers
from rnnlab.data.spec import Scaling, TaskSpec
from rnnlab.data.windowing import (
    SPLITS,
    TensorBatches,
    check_fits,
    sliding_windows,
    split_bounds,
    standard_scaling,
)
from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError


@dataclass(frozen=True)
class Frame:
    """A series as a data module hands it over: ``values`` (time, columns) in original units,
    the targets' columns first and the covariates' after; ``times`` (one per row: datetimes or
    numbers) where the data has a time column; ``future`` the covariates' values in rows
    after the last (known ahead, as a weather forecast is), with their ``future_times``."""

    values: np.ndarray
    targets: tuple[str, ...] = ("value",)
    times: list | None = None
    future: np.ndarray | None = None  # (rows, covariates): their values after the last row
    future_times: list | None = None


class SeriesDataModule(WindowDataModule):
    """Windows of ``window`` past rows and the ``horizon`` rows that follow.

    The series is split by time into train / val / test, and windows are cut inside each
    split, so no window crosses a split boundary. Windows hold every column (targets, then
    covariates) in original units: inputs (n, window, columns), targets (n, steps, columns),
    of which a forecaster predicts the target columns. The standard scaling of each column,
    fitted on the train split only, goes to the model in ``spec``. Test targets are
    ``rollout_steps`` long (>= horizon) so a task can score a multi-step autoregressive
    rollout on the same windows it scores the direct forecast.

    Beside the windows it fits the linear autoregressive baseline (``ar_``, see
    :func:`linear_autoregression`) on the train windows and scores it on every split's
    windows; the scores reach the task as ``spec.baselines``.
    """

    # the data setting that decides the series' length, named when it is too short
    source = "length"
    # task.highway null: whether the forecast starts from the linear autoregression
    highway = False

    @declared
    def __init__(
        self,
        window: Window = 64,
        horizon: Horizon = 4,
        batch_size: BatchSize = 64,
        splits: Splits = (0.7, 0.15, 0.15),
        rollout_steps: RolloutSteps = 32,
        season: Annotated[
            int, Field(ge=1, description="the seasonal naive forecast's period in steps (null: none)")
        ]
        | None = None,
        num_workers: Workers = 0,
        seed: Seed = 0,
    ) -> None:
        super().__init__(window, horizon, rollout_steps, batch_size, splits, num_workers, seed)
        self.season = season
        self.scaling: Scaling | None = None
        self.bounds: list[tuple[int, int]] = []
        self.frame: Frame | None = None
        self.baselines: dict[str, dict[str, float]] = {}

    def load_frame(self) -> Frame:
        """The raw series, in its original units."""
        raise NotImplementedError(f"{type(self).__name__} must implement load_frame()")

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        frame = self.load_frame()
        series = np.asarray(frame.values, dtype=np.float64)
        if series.ndim != 2 or not np.all(np.isfinite(series)):
            raise ConfigError(self.source, "a series of finite numbers", None)
        needs = [1 + self.horizon, 1 + self.horizon, 1 + self.rollout_steps]  # window >= 1
        check_fits(self.source, "a series", "steps", len(series), self.splits, needs)
        self.bounds = split_bounds(len(series), self.splits)
        sizes = [stop - start for start, stop in self.bounds]
        # the largest window that fits every split, named by the split that limits it
        limit, size, name = min(
            (size - need + 1, size, name) for size, need, name in zip(sizes, needs, SPLITS, strict=True)
        )
        if self.window > limit:
            extra_name, extra = (
                ("rollout_steps", self.rollout_steps) if name == "test" else ("horizon", self.horizon)
            )
            raise ConfigError(
                "window",
                f"<= {limit} so that window + {extra_name} ({extra}) fits the {name} split of {size} steps",
                self.window,
            )
        train_start, train_stop = self.bounds[0]
        self.scaling = standard_scaling(series[train_start:train_stop])
        for name, (start, stop) in zip(SPLITS, self.bounds, strict=True):
            targets = self.rollout_steps if name == "test" else self.horizon
            self.datasets[name] = TensorBatches(*sliding_windows(series[start:stop], self.window, targets))
        self.frame = frame
        self.baselines = linear_autoregression(
            {name: dataset.tensors for name, dataset in self.datasets.items()},
            self.scaling,
            frame.targets,
            self.horizon,
        )

    def task_spec(self) -> TaskSpec:
        season = self.season if self.season is not None and self.season <= self.window else None
        targets = self.frame.targets
        return TaskSpec(
            objective="regression",
            input_size=self.frame.values.shape[1],
            output_size=self.horizon * len(targets),
            scaling=self.scaling,
            targets=targets,
            season=season,
            rollout_steps=self.rollout_steps,
            baselines=self.baselines,
            window=self.window,
            highway=self.highway,
        )

    def window_times(self, split: str, index: int) -> list | None:
        """The times of window ``index`` of ``split``, its inputs' and its targets' rows; None
        when the data has no time column (plots then count steps)."""
        if self.frame is None or self.frame.times is None:
            return None
        start = self.bounds[SPLITS.index(split)][0] + index
        x, y = self.datasets[split].tensors
        return self.frame.times[start : start + x.shape[1] + y.shape[1]]
