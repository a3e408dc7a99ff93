"""What the looking-inside callbacks share: the tasks they serve, and when they run."""

from __future__ import annotations

import logging
from typing import ClassVar

import lightning as L

from rnnlab.declared import Annotated, Field, declared
from rnnlab.tasks.base import TaskModule

EveryNEpochs = Annotated[int, Field(ge=1, description="after epochs n, 2n, ... and the last")]
Examples = Annotated[int, Field(ge=1, description="validation examples it draws on")]

log = logging.getLogger(__name__)


class TaskCallback(L.Callback):
    """A callback for some tasks, run every ``every_n_epochs`` epochs.

    ``serves`` names the task class (tasks/) whose methods the callback calls. On any other
    task the callback is off for the whole run, decided once at setup and said once in the
    log: the default callback list holds every task's plots, so a forecast plot on a text
    run is not a mistake, only nothing to draw. ``applies`` narrows it further (a network
    with an attention head, say).

    ``every_n_epochs`` means what Lightning's ``check_val_every_n_epoch`` means: after
    epochs n, 2n, 3n, ... (counting from 1), and also after the last epoch of
    ``trainer.max_epochs``, so a short run still shows its final state.
    """

    serves: ClassVar[type[TaskModule]] = TaskModule

    @declared
    def __init__(self, every_n_epochs: EveryNEpochs = 1) -> None:
        self.every_n_epochs = every_n_epochs
        self.active = True

    def applies(self, pl_module: TaskModule) -> str | None:
        """Why the callback cannot run on this task, or None when it can."""
        if not isinstance(pl_module, self.serves):
            return f"it serves {self.serves.__name__} tasks, and this run's is {type(pl_module).__name__}"
        return None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        reason = self.applies(pl_module)
        self.active = reason is None
        if reason is not None and trainer.is_global_zero:
            log.info("%s is off for this run: %s", type(self).__name__, reason)

    def due(self, trainer: L.Trainer) -> bool:
        """Whether the epoch that just ended is one to act on (see the class docstring)."""
        finished = trainer.current_epoch + 1
        return finished % self.every_n_epochs == 0 or finished == trainer.max_epochs

    def summary_metrics(self) -> dict[str, float]:
        """Numbers for metrics.json at the end of the run; none by default."""
        return {}
