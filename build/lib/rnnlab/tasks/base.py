"""What every task's LightningModule shares: the network, the spec, the optimizer setup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric

from rnnlab.data.spec import TaskSpec

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]

# The schedulers whose schedule has an end: the setting that places it, in the scheduler's
# own steps, and where the end lies relative to it (OneCycleLR reaches its last learning
# rate at step total_steps - 1; a step more raises).
HORIZONS: dict[str, tuple[str, int]] = {
    "CosineAnnealingLR": ("T_max", 0),
    "LinearLR": ("total_iters", 0),
    "PolynomialLR": ("total_iters", 0),
    "OneCycleLR": ("total_steps", -1),
}


def schedule_end(scheduler: torch.optim.lr_scheduler.LRScheduler) -> int | None:
    """The step count at which ``scheduler``'s schedule ends; None for one without an end."""
    if type(scheduler).__name__ not in HORIZONS:
        return None
    setting, shift = HORIZONS[type(scheduler).__name__]
    return getattr(scheduler, setting) + shift


@dataclass(frozen=True)
class Schedule:
    """How the learning rate changes over a run.

    ``factory`` builds the torch scheduler from the optimizer (a Hydra ``_partial_``).
    Lightning steps it every ``interval`` ("epoch" or "step"); ReduceLROnPlateau watches
    ``monitor``. ``clock``, set on a time budget, says which step count the scheduler should
    have reached by now: the schedule then follows the wall clock instead of the optimizer's
    steps (see rnnlab.callbacks.budget).
    """

    factory: SchedulerFactory
    interval: str = "epoch"
    monitor: str = "val/loss"
    clock: Callable[[], int] | None = None


class TaskModule(L.LightningModule):
    """A network trained for one kind of task.

    ``optimizer`` is a factory (a Hydra ``_partial_`` config) called with the parameters;
    ``schedule``, if any, says how its learning rate changes.
    """

    def __init__(
        self,
        net: nn.Module,
        spec: TaskSpec,
        optimizer: OptimizerFactory,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.spec = spec
        self.optimizer_factory = optimizer
        self.schedule = schedule
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
        if self.schedule is None:
            return optimizer
        scheduler = {
            "scheduler": self.schedule.factory(optimizer=optimizer),
            "interval": self.schedule.interval,
            "monitor": self.schedule.monitor,
        }
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def lr_scheduler_step(self, scheduler, metric) -> None:
        if self.schedule is None or self.schedule.clock is None:
            super().lr_scheduler_step(scheduler, metric)
            return
        # on the clock: as many scheduler steps as ticks of the budget passed since the last
        # optimizer step (none after a fast step, several after a slow one), taken one at a
        # time because chained schedules (cosine's recursion) are exact only that way
        # rank 0's clock decides for every DDP process: a tick apart, their learning rates
        # would differ and the replicas' weights drift apart
        reached = self.trainer.strategy.broadcast(self.schedule.clock())
        while scheduler.last_epoch < reached:
            scheduler.step()

    def batch_loss(self, batch: tuple[torch.Tensor, ...], net: nn.Module | None = None) -> torch.Tensor:
        """The training loss of one batch, with this task's network or ``net`` (a copy, maybe
        in another dtype), touching no state the training carries. Every task has one; the
        gradient-flow measurement differentiates it."""
        raise NotImplementedError(f"{type(self).__name__} must implement batch_loss()")

    @property
    def hparams_metrics(self) -> list[str]:
        """Metric names shown beside the hyperparameters in TensorBoard's HPARAMS tab."""
        return ["val/loss"]
