"""The interpolations rnnlab's configs use beyond OmegaConf's and Hydra's own, registered
when the package is imported, so every way of composing the configs (the entry points,
Hydra's compose API, the tests) knows them."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

# conf/logger/mlflow.yaml: MLflow keeps a store's artifact root as given, so give it whole
OmegaConf.register_new_resolver("rnnlab_abspath", lambda path: str(Path(path).resolve()), replace=True)
# conf/logger/wandb.yaml: offline unless the user has given W&B an API key
OmegaConf.register_new_resolver(
    "rnnlab_wandb_offline", lambda: not os.environ.get("WANDB_API_KEY"), replace=True
)
