"""Forecasting one univariate series: windows, a time-ordered split, a train-only scaler.

``SeriesDataModule`` does the work for any series; subclasses only say where the values
come from (``SineDataModule`` generates them, ``CsvSeriesDataModule`` reads a CSV column).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnlab.data.base import WindowDataModule
from rnnlab.data.files import read_utf8
from rnnlab.data.spec import Scaling, TaskSpec
from rnnlab.data.windowing import (
    SPLITS,
    TensorBatches,
    check_fits,
    sliding_windows,
    split_bounds,
    standard_scaling,
)
from rnnlab.errors import ConfigError, check_int


class SeriesDataModule(WindowDataModule):
    """Windows of ``window`` past values and the ``horizon`` values that follow.

    The series is split by time into train / val / test, and windows are cut inside each
    split, so no window crosses a split boundary. Windows hold values in original units;
    the standard scaling, fitted on the train split only, goes to the model in ``spec``.
    Test targets are ``rollout_steps`` long (>= horizon) so a task can score a multi-step
    autoregressive rollout on the same windows it scores the direct forecast.
    """

    # the data setting that decides the series' length, named when it is too short
    source = "length"

    def __init__(
        self,
        window: int = 64,
        horizon: int = 4,
        batch_size: int = 64,
        splits: Sequence[float] = (0.7, 0.15, 0.15),
        rollout_steps: int = 32,
        season: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(window, horizon, rollout_steps, batch_size, splits, num_workers, seed)
        self.season = None if season is None else check_int("season", season, 1)
        self.scaling: Scaling | None = None
        self.bounds: list[tuple[int, int]] = []

    def load_series(self) -> np.ndarray:
        """The raw 1-D series, in its original units."""
        raise NotImplementedError(f"{type(self).__name__} must implement load_series()")

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        series = np.asarray(self.load_series(), dtype=np.float64)
        if series.ndim != 1 or not np.all(np.isfinite(series)):
            raise ConfigError(self.source, "a 1-D sequence of finite numbers", None)
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

    def task_spec(self) -> TaskSpec:
        season = self.season if self.season is not None and self.season <= self.window else None
        return TaskSpec(
            objective="regression",
            input_size=1,
            output_size=self.horizon,
            scaling=self.scaling,
            season=season,
            rollout_steps=self.rollout_steps,
        )


class CsvSeriesDataModule(SeriesDataModule):
    """One numeric column of a UTF-8 CSV file with a header row, in file order."""

    source = "path"

    def __init__(self, path: str, column: str, delimiter: str = ",", **kwargs) -> None:
        super().__init__(**kwargs)
        if delimiter in ("\\t", "tab"):  # a tab is hard to type in a Hydra override
            delimiter = "\t"
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ConfigError("delimiter", "one character, e.g. ',' or ';' (or tab)", delimiter)
        self.path = Path(path).expanduser()
        self.column = column
        self.delimiter = delimiter

    def load_series(self) -> np.ndarray:
        lines = read_utf8(self.path, "CSV").splitlines()
        reader = csv.DictReader(lines, delimiter=self.delimiter)
        columns = reader.fieldnames or []
        if self.column not in columns:
            raise ConfigError(
                "column",
                "one of the file's columns: " + ", ".join(columns),
                self.column,
                self._delimiter_hint(columns),
            )
        values = []
        for row_number, row in enumerate(reader, start=2):
            cell = (row[self.column] or "").strip()
            try:
                value = float(cell)
            except ValueError:
                raise ConfigError(
                    "column",
                    "a numeric column",
                    self.column,
                    f"line {row_number} of {self.path} holds {cell!r}",
                ) from None
            if not math.isfinite(value):
                raise ConfigError(
                    "column", "finite numbers", self.column, f"line {row_number} holds {cell!r}"
                )
            values.append(value)
        return np.asarray(values)

    def _delimiter_hint(self, columns: list[str]) -> str:
        """When the header reads as one column holding another separator, say which."""
        if len(columns) != 1:
            return ""
        for other in (";", "\t", "|", ","):
            if other != self.delimiter and other in columns[0]:
                setting = "tab" if other == "\t" else other
                return (
                    f"the header reads as one column because the file is separated by {other!r}, "
                    f"not {self.delimiter!r}: set data.delimiter='{setting}'"
                )
        return ""
