"""Rebuild a trained task from its checkpoint alone, loading it safely."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from rnnlab.errors import ConfigError


def load_task(path: str | Path, setting: str = "ckpt_path"):
    """The LightningModule saved in ``path``, in eval mode, on the CPU.

    The checkpoint is read with ``weights_only=True`` (no code runs from it); the config and
    spec that rnnlab-train stored in it rebuild the network before the weights load.
    """
    import torch

    from rnnlab.cli.build import build_task
    from rnnlab.data.spec import TaskSpec

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
    task = build_task(OmegaConf.create(meta["config"]), TaskSpec.from_dict(meta["spec"]))
    try:
        task.load_state_dict(checkpoint["state_dict"])
    except (KeyError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            setting, "a checkpoint whose weights match its stored config", str(path), first_line
        ) from None
    return task.eval()
