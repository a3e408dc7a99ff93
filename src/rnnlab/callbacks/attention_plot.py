"""The attention head's weights over the time steps of one validation example, in TensorBoard."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from rnnlab.models.heads import AttentionHead


class AttentionPlot(L.Callback):
    """After validation (every ``every_n_epochs``), runs the first validation example
    through a network with ``model.head=attention`` and logs ``val/attention``: the input
    window above and the weight the head gives each of its steps below. Other heads: nothing."""

    def __init__(self, every_n_epochs: int = 1) -> None:
        self.every_n_epochs = every_n_epochs

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        head = getattr(getattr(pl_module, "net", None), "head", None)
        if not isinstance(head, AttentionHead) or trainer.sanity_checking or not trainer.is_global_zero:
            return
        if trainer.current_epoch % self.every_n_epochs:
            return
        tensorboard = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        loader = trainer.val_dataloaders
        if tensorboard is None or loader is None:
            return
        x = loader.dataset[0][0].unsqueeze(0).to(pl_module.device)
        with torch.no_grad():
            pl_module(x)
        weights = head.weights[0].cpu()
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
