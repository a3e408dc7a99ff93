"""The attention head's weights over the time steps of one validation example, in TensorBoard."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from rnnlab.callbacks.base import TaskCallback
from rnnlab.models.heads import AttentionHead
from rnnlab.tasks.regression import SequenceRegressor


class AttentionPlot(TaskCallback):
    """After validation (every ``every_n_epochs``), runs the first validation example
    through a forecaster with ``model.head=attention`` and logs ``val/attention``: the input
    window above and the weight the head gives each of its steps below."""

    serves = SequenceRegressor

    def applies(self, pl_module) -> str | None:
        if reason := super().applies(pl_module):
            return reason
        if not isinstance(pl_module.net.head, AttentionHead):
            return "the network's head is not model.head=attention"
        return None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: SequenceRegressor) -> None:
        if not self.active or trainer.sanity_checking or not trainer.is_global_zero or not self.due(trainer):
            return
        tensorboard = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        loader = trainer.val_dataloaders
        if tensorboard is None or loader is None:
            return
        x = loader.dataset[0][0].unsqueeze(0).to(pl_module.device)
        with torch.no_grad():
            weights = pl_module.net.attention(pl_module.network_input(x))[0].cpu()
        figure = _figure(x[0, :, 0].cpu(), weights)
        tensorboard.experiment.add_figure("val/attention", figure, trainer.global_step)


def _figure(window: torch.Tensor, weights: torch.Tensor):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
    steps = range(len(weights))
    top.plot(steps, window, color="0.3", marker=".")
    top.set_ylabel("input")
    bottom.bar(steps, weights, color="tab:purple")
    bottom.set_ylabel("attention")
    bottom.set_xlabel("time step of the window")
    fig.tight_layout()
    return fig
