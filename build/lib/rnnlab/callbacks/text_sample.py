"""Text sampled from a fixed prompt after each validation epoch: TensorBoard and samples.txt."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from rnnlab.callbacks.base import EveryNEpochs, TaskCallback
from rnnlab.declared import Annotated, Field, declared
from rnnlab.tasks.language import CharLanguageModel


class TextSample(TaskCallback):
    """Samples ``length`` characters after ``prompt`` with its own seeded generator (so
    training's random stream is untouched and epochs are comparable), logs them to
    TensorBoard's TEXT tab and appends them to ``<run>/samples.txt``. Language tasks."""

    serves = CharLanguageModel

    @declared
    def __init__(
        self,
        prompt: Annotated[str, Field(min_length=1, description="the text to continue")] = "The ",
        length: Annotated[int, Field(ge=0, description="characters to add")] = 200,
        temperature: Annotated[
            float, Field(ge=0, description="< 1 sharper, > 1 more random; 0: the most likely character")
        ] = 0.8,
        top_k: Annotated[int, Field(ge=0, description="> 0: draw among the k most likely characters")] = 0,
        seed: Annotated[int, Field(ge=0, description="the same seed gives the same text")] = 0,
        every_n_epochs: EveryNEpochs = 1,
    ) -> None:
        super().__init__(every_n_epochs)
        self.prompt = prompt
        self.length = length
        self.temperature = temperature
        self.top_k = top_k
        self.seed = seed

    def on_validation_end(self, trainer: L.Trainer, pl_module: CharLanguageModel) -> None:
        if not self.active or trainer.sanity_checking or not trainer.is_global_zero or not self.due(trainer):
            return
        generator = torch.Generator().manual_seed(self.seed)
        text = pl_module.sample(self.prompt, self.length, self.temperature, self.top_k, generator)
        loss = trainer.callback_metrics.get("val/loss")
        header = f"epoch {trainer.current_epoch}, step {trainer.global_step}" + (
            "" if loss is None else f", val/loss {float(loss):.4f}"
        )
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_text(
                    "samples/text", f"{header}\n\n```\n{text}\n```", trainer.global_step
                )
        with (Path(trainer.default_root_dir) / "samples.txt").open("a", encoding="utf-8") as handle:
            handle.write(f"--- {header}\n{text}\n\n")
