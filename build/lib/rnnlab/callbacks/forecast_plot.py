"""A forecast-vs-truth figure in TensorBoard after validation and test."""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from rnnlab.callbacks.base import EveryNEpochs, Examples, TaskCallback
from rnnlab.data.series import SeriesDataModule
from rnnlab.declared import declared
from rnnlab.tasks.regression import SequenceRegressor


class ForecastPlot(TaskCallback):
    """Plots ``num_examples`` windows spread over the val (or test) split: the input history,
    the true continuation and the model's forecast of each target, in original units, with
    the interval between the outer quantiles shaded where the model forecasts one, against
    the data's times where it has a time column. The test figure shows the autoregressive
    rollout over the whole test target (the interval over its first horizon, the direct
    forecast's). Forecasting tasks."""

    serves = SequenceRegressor

    @declared
    def __init__(self, num_examples: Examples = 4, every_n_epochs: EveryNEpochs = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_examples = num_examples

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: SequenceRegressor) -> None:
        if self.active and not trainer.sanity_checking and self.due(trainer):
            self._log(trainer, pl_module, "val", trainer.val_dataloaders)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: SequenceRegressor) -> None:
        if self.active:
            self._log(trainer, pl_module, "test", trainer.test_dataloaders)

    def _log(self, trainer: L.Trainer, pl_module: SequenceRegressor, split: str, loader) -> None:
        tensorboard = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if tensorboard is None or not trainer.is_global_zero or loader is None:
            return
        if isinstance(loader, list | tuple):  # several test splits: plot the first
            loader = loader[0]
        dataset = loader.dataset
        picks = torch.linspace(0, len(dataset) - 1, self.num_examples).long().tolist()
        x, y = (torch.stack(parts) for parts in zip(*(dataset[i] for i in picks), strict=True))
        x, y = x.to(pl_module.device), y.to(pl_module.device)
        with torch.no_grad():
            forecast = pl_module.rollout(x, y) if split == "test" else pl_module(x)
            interval = pl_module.interval(x)[..., [0, -1]] if pl_module.likelihood.levels else None
        datamodule = trainer.datamodule
        times = None
        if isinstance(datamodule, SeriesDataModule) and split in datamodule.datasets:
            found = [datamodule.window_times(split, i) for i in picks]
            times = None if found[0] is None else found  # None: the data has no time column
        lines = Lines(x.cpu(), y.cpu(), forecast.cpu(), None if interval is None else interval.cpu(), times)
        figure = _figure(lines, picks, split, pl_module.spec.targets, pl_module.likelihood.levels)
        tensorboard.experiment.add_figure(f"{split}/forecast", figure, trainer.global_step)


@dataclass(frozen=True)
class Lines:
    """What one figure draws, in original units: the windows (examples, window, columns), the
    rows that follow (examples, steps, columns), the forecast of the targets (examples,
    steps, targets), the interval of the first ``horizon`` of them (examples, horizon,
    targets, 2) or None, and each example's times (or None: steps count from the origin)."""

    history: torch.Tensor
    truth: torch.Tensor
    forecast: torch.Tensor
    interval: torch.Tensor | None
    times: list | None


def _figure(lines: Lines, picks: list[int], split: str, targets: tuple[str, ...], levels: tuple[float, ...]):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows, columns = len(picks), len(targets)
    fig, axes = plt.subplots(rows, columns, figsize=(8 * columns, 2 * rows), squeeze=False)
    window, steps = lines.history.shape[1], lines.forecast.shape[1]
    label = "rollout" if split == "test" else "forecast"
    for row, index in enumerate(picks):
        times = lines.times[row] if lines.times is not None else list(range(-window + 1, steps + 1))
        past, future = times[:window], times[window : window + steps]
        for column, target in enumerate(targets):
            ax = axes[row, column]
            ax.plot(past, lines.history[row, :, column], color="0.5", label="history")
            ax.plot(future, lines.truth[row, :steps, column], color="tab:blue", marker=".", label="truth")
            ax.plot(future, lines.forecast[row, :, column], color="tab:orange", marker=".", label=label)
            if lines.interval is not None:
                band = lines.interval[row, :, column]
                share = f"{levels[-1] - levels[0]:.0%}"
                ax.fill_between(
                    future[: len(band)], band[:, 0], band[:, 1], color="tab:orange", alpha=0.25, label=share
                )
            ax.axvline(past[-1], color="0.8", linewidth=1)
            ax.set_ylabel(f"{target} #{index}" if columns > 1 else f"#{index}")
    axes[0, 0].legend(loc="upper left", fontsize="small", ncol=4)
    for ax in axes[-1]:
        ax.set_xlabel("time" if lines.times is not None else "steps relative to the forecast origin")
    if lines.times is not None and not isinstance(lines.times[0][0], float):
        for ax in axes.flat:  # each window has its own dates: label every row, slanted to fit
            ax.tick_params(axis="x", labelrotation=25, labelsize="small")
    fig.tight_layout()
    return fig
