"""Forecast past the end of the data with a trained forecaster (rnnlab-predict).

The run's checkpoint says everything: which columns it reads (targets, then covariates),
its window and horizon, the scaling fitted on its train split, its likelihood. The file
to forecast from is read by the run's own data module (the same columns by name, in any
order), its last window is forecast ``steps`` ahead (up to the horizon directly, past it
by the autoregressive rollout), and the interval is the run's (its outer quantiles, or
for a point forecast none) or, with conformal calibration, that interval widened or
narrowed per step to the coverage it aims at on the validation windows of the file
(tasks/conformal.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from rnnlab.data.series import Frame, SeriesDataModule
from rnnlab.data.times import continue_times, format_time, series_step
from rnnlab.data.windowing import SPLITS, sliding_windows, split_bounds
from rnnlab.errors import ConfigError
from rnnlab.tasks.regression import SequenceRegressor

# a column whose spread differs from its training spread by this factor or more is worth a warning
SCALE_WARNING = 10.0


@dataclass
class Forecast:
    """``steps`` rows past the last: their times (or row numbers), the point forecast and
    the interval (steps, targets), in the data's units."""

    targets: tuple[str, ...]
    times: list
    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    coverage: float
    interval: str  # what the interval is: "none", "model" or "conformal"
    notes: list[str] = field(default_factory=list)

    def columns(self) -> dict[str, list]:
        """The forecast file's columns: the time, then each target and its interval."""
        level = round(self.coverage * 100)
        name = "time" if self.times and not isinstance(self.times[0], int) else "step"
        columns: dict[str, list] = {name: [format_time(t) if name == "time" else t for t in self.times]}
        for index, target in enumerate(self.targets):
            columns[target] = self.point[:, index].tolist()
            if self.interval != "none":
                columns[f"{target}_lo_{level}"] = self.lower[:, index].tolist()
                columns[f"{target}_hi_{level}"] = self.upper[:, index].tolist()
        return columns


def run_checkpoint(run: str) -> str:
    """A run dir's best checkpoint: the one its ModelCheckpoint kept beside last.ckpt (the
    newest epoch one where it kept several), else last.ckpt."""
    folder = Path(run).expanduser() / "checkpoints"
    if not folder.is_dir():
        raise ConfigError("run", "a run dir of rnnlab-train (it holds checkpoints/)", run)
    kept = sorted(path for path in folder.glob("*.ckpt") if path.name != "last.ckpt")
    if kept:
        return str(max(kept, key=lambda path: path.stat().st_mtime))
    if (folder / "last.ckpt").is_file():
        return str(folder / "last.ckpt")
    raise ConfigError("run", "a run dir with a checkpoint", run, "its checkpoints/ is empty")


def load_forecaster(run: str | None, ckpt_path: str | None) -> tuple[SequenceRegressor, DictConfig, str]:
    """The trained forecaster, its run config and the checkpoint's path; a run that is not a
    forecast of a series is refused."""
    from rnnlab.run.checkpoint import load_checkpoint

    setting, path = ("ckpt_path", ckpt_path) if ckpt_path else ("run", run_checkpoint(run))
    task, config = load_checkpoint(path, setting)
    series = str(config.data.get("_target_", "")).startswith(("rnnlab.data.csv_series.", "rnnlab.data.sine."))
    if not isinstance(task, SequenceRegressor) or not series:
        raise ConfigError(
            setting,
            "a forecasting run (trained with data=series or data=sine)",
            ckpt_path or run,
            f"it was trained with {config.data.get('_target_')}",
        )
    return task, config, path


def read_frame(config: DictConfig, path: str | None) -> tuple[SeriesDataModule, Frame]:
    """The data module of the run's data config (reading ``path`` where given) and its frame."""
    from rnnlab.run.targets import instantiate

    data = OmegaConf.to_container(config.data, resolve=True)
    if path is not None:
        if "path" not in data:
            raise ConfigError("data.path", "null for a run trained on generated data (no file)", path)
        data["path"] = path
    datamodule = instantiate("data", data)
    columns = ", ".join(datamodule_columns(data))
    try:
        frame = datamodule.load_frame()
    except ConfigError as error:
        if "path" not in data:
            raise
        raise ConfigError(
            "data.path", f"a CSV with the run's columns ({columns})", str(data["path"]), str(error)
        ) from None
    return datamodule, frame


def datamodule_columns(data: dict) -> list[str]:
    """The columns a CSV run reads, as its data config names them."""
    names = []
    for key in ("target", "column", "covariates", "time_column"):
        value = data.get(key)
        names += [value] if isinstance(value, str) else list(value or [])
    return names


def check_scale(task: SequenceRegressor, config: DictConfig, frame: Frame) -> list[str]:
    """Warnings for columns whose recent spread is far from their training spread (other
    units, another sensor): the ratio, per column, named as the run's config names it."""
    scaling = task.spec.scaling
    recent = frame.values[-max(4 * int(config.data.window), 2) :]
    names = list(task.spec.targets) + [str(name) for name in (config.data.get("covariates") or [])]
    warnings = []
    for index, name in enumerate(names):
        spread, trained = float(recent[:, index].std()), scaling.scale[index]
        level = abs(float(recent[:, index].mean()) - scaling.offset[index]) / trained
        ratio = spread / trained if trained > 0 else math.inf
        if ratio >= SCALE_WARNING or (0 < ratio <= 1 / SCALE_WARNING):
            warnings.append(
                f"{name}: its last {len(recent)} rows spread {ratio:.3g}x as widely as in training: "
                "another unit or source?"
            )
        elif scaling.mode == "global" and level >= SCALE_WARNING:
            warnings.append(
                f"{name}: its last {len(recent)} rows sit {level:.3g} training standard deviations "
                "from the training mean: another unit or source?"
            )
    return warnings


def future_rows(task: SequenceRegressor, frame: Frame, steps: int) -> tuple[torch.Tensor, list[str]]:
    """(1, steps, columns): the covariates' known future where the rollout needs it (the
    targets' columns are not read); refuses more steps than the covariates allow."""
    horizon, targets, columns = task.horizon, len(task.spec.targets), frame.values.shape[1]
    future = torch.zeros(1, steps, columns)
    covariates = columns - targets
    needed = horizon * (math.ceil(steps / horizon) - 1) if covariates else 0
    available = 0 if frame.future is None else len(frame.future)
    if needed > available:
        largest = horizon * (available // horizon + 1)
        raise ConfigError(
            "steps",
            f"at most {largest} for this file",
            steps,
            f"past the horizon ({horizon}) the forecast reads the covariates' values, and the file holds "
            f"{available} rows of them after its last target value; add rows with the covariates' "
            "future values and an empty target to forecast further",
        )
    notes = []
    if needed:
        future[0, :needed, targets:] = torch.as_tensor(frame.future[:needed], dtype=torch.float32)
        notes.append(f"read the covariates' values in the {needed} rows after the last target value")
    return future, notes


def calibration_windows(
    config: DictConfig, frame: Frame, steps: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The validation split's windows of the file, their targets ``steps`` long."""
    window = int(config.data.window)
    start, stop = split_bounds(len(frame.values), list(config.data.splits))[SPLITS.index("val")]
    rows = stop - start
    if rows < window + steps:
        raise ConfigError(
            "steps",
            f"at most {rows - window} with calibrate=conformal",
            steps,
            f"the validation split of the file holds {rows} rows, and each calibration window needs "
            f"{window} + steps",
        )
    x, y = sliding_windows(frame.values[start:stop].astype(np.float32), window, steps)
    return [(x[i : i + 256], y[i : i + 256]) for i in range(0, len(x), 256)]


def times_ahead(frame: Frame, steps: int, freq: str | None) -> tuple[list, str | None]:
    """The times of the ``steps`` rows after the last (row numbers without a time column)
    and the step, in words."""
    if frame.times is None:
        if freq is not None:
            raise ConfigError(
                "freq", "null for data without a time column (its rows are numbered: data.time_column)", freq
            )
        start = len(frame.values)
        return list(range(start + 1, start + steps + 1)), None
    step = series_step(frame.times, freq)
    times = continue_times(frame.times[-1], step, steps)
    for given, expected in zip(frame.future_times or [], times, strict=False):
        if given != expected:
            raise ConfigError(
                "data.path",
                f"a CSV whose rows after the last target value continue its time column at one step ({step})",
                None,
                f"{format_time(given)} where {format_time(expected)} comes next",
            )
    return times, str(step)


@torch.no_grad()
def forecast(
    task: SequenceRegressor,
    config: DictConfig,
    frame: Frame,
    steps: int,
    calibrate: str | None,
    freq: str | None,
) -> Forecast:
    """The forecast of the ``steps`` rows after the file's last window."""
    window = int(config.data.window)
    if len(frame.values) < window:
        raise ConfigError(
            "data.path",
            f"a CSV with at least the run's window of rows ({window})",
            None,
            f"it has {len(frame.values)}",
        )
    times, _ = times_ahead(frame, steps, freq)
    future, notes = future_rows(task, frame, steps)
    x = torch.as_tensor(frame.values[-window:], dtype=torch.float32).unsqueeze(0)
    point, bounds = task.rollout_interval(x, future)
    point, lower, upper = point[0], bounds[0, ..., 0], bounds[0, ..., 1]
    interval = "model" if task.likelihood.levels else "none"
    if calibrate == "conformal":
        margins = task.calibration_margins(calibration_windows(config, frame, steps))
        lower, upper, interval = lower - margins, upper + margins, "conformal"
        notes.append(f"interval calibrated on the validation split's windows to {task.coverage:.0%} coverage")
    return Forecast(
        tuple(task.spec.targets),
        times,
        point.numpy(),
        lower.numpy(),
        upper.numpy(),
        task.coverage,
        interval,
        notes,
    )


def write_forecast(folder: Path, result: Forecast, frame: Frame, about: dict[str, Any]) -> None:
    """forecast.csv, forecast.json (what was forecast from, and how) and forecast.png."""
    import csv
    import json

    columns = result.columns()
    with open(folder / "forecast.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in zip(*columns.values(), strict=True):
            writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
    (folder / "forecast.json").write_text(json.dumps(about, indent=2) + "\n")
    draw_forecast(folder / "forecast.png", result, frame)


def draw_forecast(path: Path, result: Forecast, frame: Frame, history: int = 200) -> None:
    """The last ``history`` rows of each target, the forecast and its shaded interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = len(result.targets)
    figure, axes = plt.subplots(targets, 1, figsize=(9, 3 * targets), squeeze=False)
    past = frame.values[-history:]
    past_times = (
        frame.times[-history:]
        if frame.times is not None
        else list(range(len(frame.values) - len(past) + 1, len(frame.values) + 1))
    )
    for index, (axis, name) in enumerate(zip(axes[:, 0], result.targets, strict=True)):
        axis.plot(past_times, past[:, index], color="black", linewidth=1, label="data")
        axis.plot(result.times, result.point[:, index], color="tab:blue", label="forecast")
        if result.interval != "none":
            label = f"{result.coverage:.0%} interval" + (
                " (conformal)" if result.interval == "conformal" else ""
            )
            axis.fill_between(
                result.times,
                result.lower[:, index],
                result.upper[:, index],
                color="tab:blue",
                alpha=0.25,
                label=label,
            )
        axis.set_ylabel(name)
        axis.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
