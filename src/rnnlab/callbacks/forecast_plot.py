"""A forecast-vs-truth figure in TensorBoard after validation and test."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from rnnlab.callbacks.base import TaskCallback
from rnnlab.tasks import SequenceRegressor


class ForecastPlot(TaskCallback):
    """Plots ``num_examples`` windows spread over the val (or test) split: the input history,
    the true continuation and the model's forecast, in the series' original units. The test
    figure shows the autoregressive rollout over the whole test target. Forecasting tasks."""

    serves = SequenceRegressor

    def __init__(self, num_examples: int = 4, every_n_epochs: int = 1) -> None:
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
            forecast = pl_module.rollout(x, y.shape[1]) if split == "test" else pl_module(x)
        figure = _figure(x[..., 0].cpu(), y.cpu(), forecast.cpu(), picks, split)
        tensorboard.experiment.add_figure(f"{split}/forecast", figure, trainer.global_step)


def _figure(history, truth, forecast, picks, split):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(len(picks), 1, figsize=(8, 2 * len(picks)), sharex=True, squeeze=False)
    window = history.shape[1]
    past = range(-window + 1, 1)
    future = range(1, truth.shape[1] + 1)
    label = "rollout" if split == "test" else "forecast"
    for ax, h, t, f, index in zip(axes[:, 0], history, truth, forecast, picks, strict=True):
        ax.plot(past, h, color="0.5", label="history")
        ax.plot(future, t, color="tab:blue", marker=".", label="truth")
        ax.plot(future, f, color="tab:orange", marker=".", label=label)
        ax.axvline(0.5, color="0.8", linewidth=1)
        ax.set_ylabel(f"#{index}")
    axes[0, 0].legend(loc="upper left", fontsize="small", ncol=3)
    axes[-1, 0].set_xlabel("steps relative to the forecast origin")
    fig.tight_layout()
    return fig
