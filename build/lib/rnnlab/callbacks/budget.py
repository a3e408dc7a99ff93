"""A time budget: the wall-clock limit of a run, and the clock its learning rate follows.

Two runs given "10 minutes" are compared fairly only if both finish their schedule: a
cosine decay over a step count is cut off mid-decay on a slower machine or by a model with
slower steps, which then loses for a reason that is not the model. On a budget, a schedule
with an end (cosine, linear, polynomial, one-cycle) runs over ``TICKS`` steps, one for each
``1/TICKS`` of the budget that has passed, so it ends when the budget does, however many
optimizer steps that was.
"""

from __future__ import annotations

from datetime import timedelta

import lightning as L
from lightning.pytorch.callbacks import Timer

# The schedule's resolution on a budget: its learning rate moves every 1/TICKS of the budget
# (0.6 s of a 10-minute budget), fine enough that the steps of the curve are invisible.
TICKS = 1000


class TimeBudget(Timer):
    """Lightning's Timer, which stops training once ``seconds`` of it have passed (validation
    included) and keeps its elapsed time in checkpoints, so a resumed run continues the
    clock rather than starting a new budget; plus the budget's progress, which the
    learning-rate schedule follows (``tick``), and what the run got out of it
    (``summary_metrics``)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(duration=timedelta(seconds=seconds), interval="step")
        self.seconds = seconds
        self.end_step: int | None = None

    def progress(self) -> float:
        """The fraction of the budget spent, in [0, 1]."""
        return min(1.0, self.time_elapsed() / self.seconds)

    def tick(self) -> int:
        """How many of the budget's TICKS have passed: the step count a schedule on the clock
        should have reached by now."""
        return int(self.progress() * TICKS)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self.end_step = trainer.global_step

    def summary_metrics(self) -> dict[str, float]:
        """The budget, the training time it bought (stops come after a step, so a little
        over) and the optimizer step at which it ended, for metrics.json."""
        metrics = {"budget/seconds": self.seconds, "budget/elapsed_s": round(self.time_elapsed(), 3)}
        if self.end_step is not None:
            metrics["budget/end_step"] = self.end_step
        return metrics
