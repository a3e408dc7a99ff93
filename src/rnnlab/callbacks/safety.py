"""Stopping safely: on a diverging loss, and on SIGINT / SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import lightning as L
import torch


class TrainingDiverged(RuntimeError):
    """The loss stopped being a finite number."""

    def __init__(
        self, value: float, step: int, epoch: int, last_checkpoint: str | None, network: str = ""
    ) -> None:
        self.value, self.step, self.epoch, self.last_checkpoint = value, step, epoch, last_checkpoint
        where = f" in {network}" if network else ""
        super().__init__(f"the loss became {value} at step {step} (epoch {epoch}){where}")


class DivergenceGuard(L.Callback):
    """Stops the run before a NaN or infinite loss is backpropagated, so no weight (and no
    checkpoint) is ever written from it; the last checkpoint saved stays the last good one."""

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        if not torch.isfinite(loss).all():
            checkpoint = trainer.checkpoint_callback
            last = (
                getattr(checkpoint, "last_model_path", "")
                or getattr(checkpoint, "best_model_path", "")
                or trainer.ckpt_path  # a resumed run's starting point
            )
            network = type(pl_module.net).__name__  # which family diverged
            raise TrainingDiverged(
                float(loss.detach()), trainer.global_step, trainer.current_epoch, last or None, network
            )


class RunInterrupted(Exception):
    """Training stopped on SIGINT or SIGTERM; a checkpoint to resume from was saved."""

    def __init__(self, signum: int, run_dir: Path) -> None:
        self.signum, self.run_dir = signum, run_dir
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


class GracefulInterrupt(L.Callback):
    """The first SIGINT (Ctrl+C) or SIGTERM stops training after the current step: the
    callback saves ``checkpoint`` right there, mid-epoch, and raises RunInterrupted.

    Saving at the end of the training batch (where Lightning's own step checkpoints are
    saved) keeps the loops' progress and the train loader's position inside the epoch, so a
    resumed run takes the very next batch an uninterrupted one would. A signal that arrives
    after the last batch of an epoch waits for the next batch (the epoch's validation and
    checkpoints run first); one after the last batch of training is left to the caller
    (``signal`` says it came). A second SIGINT interrupts at once, as usual.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint = Path(checkpoint)
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        self.signal = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after Lightning's own SIGTERM handler is in place, which this one replaces
        for signum in self.SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if self.signal is None or batch_idx + 1 >= trainer.num_training_batches:
            return
        trainer.save_checkpoint(self.checkpoint)
        raise RunInterrupted(self.signal, self.checkpoint.parent.parent)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self.on_train_end(trainer, pl_module)
