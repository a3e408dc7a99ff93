"""Stopping safely: on a diverging loss, and on SIGINT / SIGTERM."""

from __future__ import annotations

import signal

import lightning as L
import torch


class TrainingDiverged(RuntimeError):
    """The loss stopped being a finite number."""

    def __init__(self, value: float, step: int, epoch: int, last_checkpoint: str | None) -> None:
        self.value, self.step, self.epoch, self.last_checkpoint = value, step, epoch, last_checkpoint
        super().__init__(f"the loss became {value} at step {step} (epoch {epoch})")


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
            raise TrainingDiverged(
                float(loss.detach()), trainer.global_step, trainer.current_epoch, last or None
            )


class GracefulInterrupt(L.Callback):
    """The first SIGINT (Ctrl+C) or SIGTERM asks the trainer to stop after the current
    step instead of killing it; ``signal`` then tells the caller what happened, and the
    caller saves a checkpoint. A second SIGINT interrupts at once, as usual."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        self.signal = signum
        self._trainer.should_stop = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after Lightning's own SIGTERM handler is in place, which this one replaces
        self._trainer = trainer
        for signum in self.SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self.on_train_end(trainer, pl_module)
