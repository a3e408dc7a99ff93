"""Put the run's config and task spec into every checkpoint it writes."""

from __future__ import annotations

from typing import Any

import lightning as L

import rnnlab


class RunConfigCheckpoint(L.Callback):
    """A checkpoint that carries the resolved config and the data spec (vocabulary,
    scaling, sizes) is enough to rebuild the model: rnnlab-sample needs nothing else.
    Everything stored is plain data, so the checkpoint loads with ``weights_only=True``."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint["rnnlab"] = {
            "version": rnnlab.__version__,
            "config": self.config,
            "spec": pl_module.spec.to_dict(),
        }
