"""Read checkpoints safely, and rebuild a trained task from one alone.

A checkpoint may come from someone else. Loading one runs no code: the file is read with
``weights_only=True`` (tensors and plain data only), the config stored in it may name only
the classes registered for each group (run/targets.py, registry.py), and its spec and
weights are checked before use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError, first_line
from rnnlab.run import legacy

# the config groups a run builds objects from (registry.py says which classes each may name)
BUILT_GROUPS = ("data", "model", "optimizer", "scheduler", "callbacks", "logger", "trainer")


def require_checkpoint(cfg: DictConfig) -> str:
    """``ckpt_path``, which the user must give (``???`` in the config), as a path string."""
    if OmegaConf.is_missing(cfg, "ckpt_path") or not isinstance(cfg.ckpt_path, str) or not cfg.ckpt_path:
        raise ConfigError(
            "ckpt_path",
            "the path of a checkpoint written by rnnlab-train (ckpt_path=<run>/checkpoints/last.ckpt)",
        )
    return cfg.ckpt_path


def read_checkpoint(path: str | Path, setting: str = "ckpt_path") -> dict[str, Any]:
    """The checkpoint's contents, read with ``weights_only=True`` (no code runs from it),
    or a ConfigError naming ``setting`` when the file is missing, truncated or foreign, or
    when the config stored in it names code rnnlab does not build."""
    import torch

    from rnnlab.run.targets import check_config

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
            f"loading failed ({type(error).__name__}): the file is truncated, corrupt, not a "
            "checkpoint, or holds objects other than tensors and plain data",
        ) from None
    meta = checkpoint.get("rnnlab") if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict) or "spec" not in meta:
        raise ConfigError(
            setting, "a checkpoint written by rnnlab-train", str(path), "it holds no rnnlab run config"
        )
    if not isinstance(checkpoint.get("state_dict"), dict):
        raise ConfigError(setting, "a checkpoint written by rnnlab-train", str(path), "it holds no weights")
    meta["config"] = legacy.upgrade(meta["config"])  # 0.1's names for today's
    try:
        check_config(OmegaConf.create(meta["config"]), BUILT_GROUPS)
    except ConfigError as error:
        raise ConfigError(
            setting,
            "a checkpoint whose stored config names only classes rnnlab builds",
            str(path),
            str(error),
        ) from None
    except Exception as error:  # OmegaConf refuses the stored structure itself
        raise ConfigError(
            setting, "a checkpoint with a readable stored config", str(path), first_line(error)
        ) from None
    return checkpoint


def stored_spec(checkpoint: dict[str, Any], path: str | Path, setting: str = "ckpt_path"):
    """The TaskSpec stored in a checkpoint, checked field by field."""
    from rnnlab import registry
    from rnnlab.data.spec import TaskSpec

    try:
        spec = TaskSpec.from_dict(checkpoint["rnnlab"]["spec"])
    except Exception as error:  # unknown fields, wrong types: the file was edited or is foreign
        raise ConfigError(
            setting, "a checkpoint with a valid stored spec", str(path), first_line(error)
        ) from None
    if spec.objective not in registry.tasks():
        raise ConfigError(
            setting, "a checkpoint of a task rnnlab knows", str(path), f"objective {spec.objective!r}"
        )
    return spec


def load_checkpoint(path: str | Path, setting: str = "ckpt_path") -> tuple[Any, DictConfig]:
    """The LightningModule saved in ``path`` (eval mode, CPU) and the run config it was
    trained with; the stored config and spec rebuild the network before the weights load."""
    from rnnlab.run.build import build_task

    checkpoint = read_checkpoint(path, setting)
    config = OmegaConf.create(checkpoint["rnnlab"]["config"])
    task = build_task(config, stored_spec(checkpoint, path, setting))
    check_weights(checkpoint, task, path, setting, "its stored config")
    task.load_state_dict(checkpoint["state_dict"])
    return task.eval(), config


def check_weights(checkpoint: dict[str, Any], task, path: str | Path, setting: str, against: str) -> None:
    """Refuse a checkpoint whose weights do not fit ``task``: one line naming the first
    parameter that is missing, extra or shaped differently (not torch's list of all)."""
    import torch

    saved, wanted = checkpoint["state_dict"], task.state_dict()
    problem = None
    for name, tensor in wanted.items():
        if name not in saved:
            problem = f"it has no {name}"
        elif not isinstance(saved[name], torch.Tensor) or saved[name].shape != tensor.shape:
            shape = (
                tuple(saved[name].shape)
                if isinstance(saved[name], torch.Tensor)
                else type(saved[name]).__name__
            )
            problem = f"{name} is {shape} in the checkpoint but {tuple(tensor.shape)} for {against}"
        if problem:
            break
    extra = sorted(set(saved) - set(wanted))
    if problem is None and extra:
        problem = f"it holds {extra[0]}, which {against} has not"
    if problem:
        raise ConfigError(setting, f"a checkpoint whose weights match {against}", str(path), problem)
