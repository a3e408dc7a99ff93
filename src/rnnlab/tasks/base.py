"""What every task's LightningModule shares: the network, the spec, the optimizer setup."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric

from rnnlab.data.spec import TaskSpec

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]


class TaskModule(L.LightningModule):
    """A network trained for one kind of task.

    ``optimizer`` and ``scheduler`` are factories (Hydra ``_partial_`` configs): the
    optimizer is called with the parameters, the scheduler with the optimizer. The
    scheduler steps every ``scheduler_interval`` ("epoch" or "step"); ReduceLROnPlateau
    watches ``scheduler_monitor``.
    """

    def __init__(
        self,
        net: nn.Module,
        spec: TaskSpec,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
        scheduler_monitor: str = "val/loss",
    ) -> None:
        super().__init__()
        self.net = net
        self.spec = spec
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        self.train_loss = MeanMetric()

    def log_train_loss(self, loss: torch.Tensor, weight: int) -> None:
        """``train/loss_step`` and the epoch's weighted mean ``train/loss_epoch``. The mean
        is a metric of this module rather than Lightning's own aggregate so that its running
        sums go into checkpoints: a run resumed in the middle of an epoch reports the same
        epoch mean as one that never stopped."""
        self.train_loss(loss.detach(), weight)
        self.log("train/loss", self.train_loss, on_step=True, on_epoch=True, prog_bar=True)

    def on_train_epoch_start(self) -> None:
        # not called when Lightning restarts inside an epoch, where the restored sums go on
        self.train_loss.reset()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["train_loss"] = dict(self.train_loss.metric_state)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        for name, value in checkpoint.get("train_loss", {}).items():
            setattr(self.train_loss, name, value.to(self.device))

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = {
            "scheduler": self.scheduler_factory(optimizer=optimizer),
            "interval": self.scheduler_interval,
            "monitor": self.scheduler_monitor,
        }
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def batch_loss(self, batch: tuple[torch.Tensor, ...], net: nn.Module | None = None) -> torch.Tensor:
        """The training loss of one batch, with this task's network or ``net`` (a copy, maybe
        in another dtype), touching no state the training carries. Every task has one; the
        gradient-flow measurement differentiates it."""
        raise NotImplementedError(f"{type(self).__name__} must implement batch_loss()")

    @property
    def hparams_metrics(self) -> list[str]:
        """Metric names shown beside the hyperparameters in TensorBoard's HPARAMS tab."""
        return ["val/loss"]
