"""Read checkpoints safely, and rebuild a trained task from one alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError


def read_checkpoint(path: str | Path, setting: str = "ckpt_path") -> dict[str, Any]:
    """The checkpoint's contents, read with ``weights_only=True`` (no code runs from it),
    or a ConfigError naming ``setting`` when the file is missing, truncated or foreign."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(setting, "an existing checkpoint file", str(path))
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any failure to read means the same to the user
        raise ConfigError(
            setting,
            "a readable checkpoint",
            str(path),
            f"loading failed ({type(error).__name__}): the file is truncated, corrupt or not a checkpoint",
        ) from None
    meta = checkpoint.get("rnnlab") if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or "config" not in meta or "spec" not in meta:
        raise ConfigError(
            setting, "a checkpoint written by rnnlab-train", str(path), "it holds no rnnlab run config"
        )
    return checkpoint


def load_checkpoint(path: str | Path, setting: str = "ckpt_path") -> tuple[Any, DictConfig]:
    """The LightningModule saved in ``path`` (eval mode, CPU) and the run config it was
    trained with; the stored config and spec rebuild the network before the weights load."""
    from rnnlab.cli.build import build_task
    from rnnlab.data.spec import TaskSpec

    checkpoint = read_checkpoint(path, setting)
    meta = checkpoint["rnnlab"]
    config = OmegaConf.create(meta["config"])
    task = build_task(config, TaskSpec.from_dict(meta["spec"]))
    try:
        task.load_state_dict(checkpoint["state_dict"])
    except (KeyError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            setting, "a checkpoint whose weights match its stored config", str(path), first_line
        ) from None
    return task.eval(), config
