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
    """The run stopped on SIGINT or SIGTERM in ``phase``; ``resumable``: a checkpoint to
    continue from is in the run dir (training had started)."""

    def __init__(self, signum: int, run_dir: Path, phase: str = "training", resumable: bool = True) -> None:
        self.signum, self.run_dir, self.phase, self.resumable = signum, run_dir, phase, resumable
        super().__init__(f"interrupted by {signal.Signals(signum).name} during {phase}")


# where a run can be when a signal comes, in order; in the DEFERRED ones the run stops at the
# next training step's end, with a checkpoint; in the others at once
PHASES = ("start-up", "sanity check", "training", "validation", "test", "writing results")
DEFERRED = ("training", "validation")


class GracefulInterrupt(L.Callback):
    """SIGINT (Ctrl+C) and SIGTERM at any phase of a run: it ends with metrics.json saying
    ``"status": "interrupted"`` and the phase, and with a checkpoint to resume from once
    training had started.

    Used as a context around the whole run (rnnlab-train's main), so that a signal during
    start-up (data, model) is caught too; its hooks follow the phase and put its handler back
    where Lightning installs its own (at the start of fit and of test: Lightning's SIGTERM
    handler only raises SystemExit(None), an exit 0 that says nothing).

    During training and validation the first signal stops the run after the current step:
    the callback saves ``checkpoints/last.ckpt`` right there, mid-epoch, and raises
    RunInterrupted. Saving at the end of the training batch (where Lightning's own step
    checkpoints are saved) keeps the loops' progress and the train loader's position inside
    the epoch, so a resumed run takes the very next batch an uninterrupted one would. A
    signal that arrives after the last batch of an epoch waits for the next batch (the
    epoch's validation and checkpoints run first); one after the last batch of training is
    left to the caller (``signal`` says it came). In any other phase nothing is mid-step:
    the signal raises RunInterrupted at once. A second SIGINT interrupts at once, as usual.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.checkpoint = self.run_dir / "checkpoints" / "last.ckpt"
        self.signal: int | None = None
        self.phase = "start-up"
        self.trainer: L.Trainer | None = None
        self._previous: dict[int, object] = {}
        self._entered = False

    # -- the handler --------------------------------------------------------------------------

    def _handle(self, signum: int, frame) -> None:
        self.signal = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.phase not in DEFERRED:
            raise RunInterrupted(signum, self.run_dir, self.phase, self.checkpoint.is_file())

    def _install(self) -> None:
        for signum in self.SIGNALS:
            current = signal.getsignal(signum)
            if current != self._handle and signum not in self._previous:
                self._previous[signum] = current
            if current != self._handle and (signum != signal.SIGINT or self.signal is None):
                signal.signal(signum, self._handle)

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __enter__(self) -> GracefulInterrupt:
        self._entered = True
        self._install()
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        self._restore()
        if isinstance(error, RunInterrupted) and (self.trainer is None or self.trainer.is_global_zero):
            self._record(error)
        return False

    def _record(self, error: RunInterrupted) -> None:
        """metrics.json: what the run had (a finished run's results, the metrics logged so far),
        its status, the phase and the signal."""
        import json

        from rnnlab.run.results import scalar_metrics, write_metrics

        path = self.run_dir / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            metrics = json.loads(path.read_text()) if path.is_file() else {}
        except (OSError, ValueError):
            metrics = {}
        if self.trainer is not None:
            metrics.update(scalar_metrics(self.trainer.callback_metrics))
        signal_name = signal.Signals(error.signum).name
        write_metrics(path, {**metrics, "status": "interrupted", "phase": error.phase, "signal": signal_name})

    # -- the phases ---------------------------------------------------------------------------

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.trainer = trainer

    def on_sanity_check_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install()
        self.phase = "sanity check"

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install()
        self.phase = "training"

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.phase = "validation"

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.phase = "training"

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.phase = "writing results"

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install()
        self.phase = "test"

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.phase = "writing results"

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if self.signal is None or batch_idx + 1 >= trainer.num_training_batches:
            return
        trainer.save_checkpoint(self.checkpoint)
        raise RunInterrupted(self.signal, self.run_dir, "training")

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not self._entered:  # used as a plain callback: its handler lives while the trainer runs
            self._restore()
