"""Put what it takes to rebuild and continue a run into every checkpoint it writes."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import torch

import rnnlab
from rnnlab.errors import ConfigError, first_line


class RunConfigCheckpoint(L.Callback):
    """Checkpoints carry the resolved config and the data spec (vocabulary, scaling,
    sizes), which is enough to rebuild the model (rnnlab-eval, rnnlab-sample), and the
    random generators' states, so a resumed run draws the same dropout masks as one that
    never stopped. Everything stored is plain data: checkpoints load with weights_only=True."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint["rnnlab"] = {
            "version": rnnlab.__version__,
            "config": self.config,
            "spec": pl_module.spec.to_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "python": list(random.getstate()[1]),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
        }

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        rng = checkpoint.get("rnnlab", {}).get("rng")
        if not rng:
            return
        try:
            torch.set_rng_state(rng["torch"])
            random.setstate((3, tuple(rng["python"]), None))
            if rng["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:  # an edited or foreign file
            raise ConfigError(
                "ckpt_path", "a checkpoint with valid random generator states", None, first_line(error)
            ) from None
