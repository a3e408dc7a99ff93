"""``resume=<run dir>``: continue a run from its last checkpoint, with its own config."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError, first_line
from rnnlab.run import legacy
from rnnlab.run.launch import process_rank
from rnnlab.run.settings import config_groups


def resumed_config(cfg: DictConfig) -> DictConfig:
    """The config of the run in ``cfg.resume``, set to continue from its last checkpoint in
    this invocation's new run dir; key=value overrides on the command line still apply."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from rnnlab.run.checkpoint import BUILT_GROUPS
    from rnnlab.run.contradictions import check_contradictions, given_keys, overrides_given
    from rnnlab.run.targets import check_config

    check_contradictions(cfg, given_keys(overrides_given()))  # resume= beside ckpt_path=
    source = Path(str(cfg.resume)).expanduser()
    saved, last = source / ".hydra" / "config.yaml", source / "checkpoints" / "last.ckpt"
    if not saved.is_file():
        raise ConfigError(
            "resume", "a run directory of rnnlab-train (holding .hydra/config.yaml)", str(source)
        )
    again = not last.is_file() and interrupted_before_training(source)
    if not last.is_file() and not again:
        raise ConfigError(
            "resume",
            "a run directory with checkpoints/last.ckpt to continue from (or one interrupted before "
            "training began)",
            str(source),
        )
    try:
        resumed = OmegaConf.create(legacy.upgrade(OmegaConf.to_container(OmegaConf.load(saved))))
        check_config(resumed, BUILT_GROUPS)
    except ConfigError as error:
        raise ConfigError(
            "resume", "a run whose config names only classes rnnlab builds", str(source), str(error)
        ) from None
    except Exception as error:  # not YAML, or not a mapping
        raise ConfigError(
            "resume", "a run with a readable .hydra/config.yaml", str(source), first_line(error)
        ) from None
    for override in OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task)):
        key = override.key_or_group
        if key in ("resume", "overwrite") or key.startswith("hydra"):
            continue
        if key in config_groups() or override.is_delete():
            raise ConfigError(
                "resume",
                "combined with key=value overrides only (a resumed run keeps its config groups)",
                override.input_line,
            )
        if key == "budget" or key.startswith(("optimizer.", "scheduler.")):
            raise ConfigError(
                "resume",
                "combined with overrides outside optimizer.*, scheduler.* and budget (their state, "
                "the learning rate and the time spent included, comes from the checkpoint)",
                override.input_line,
            )
        OmegaConf.update(resumed, key, override.value(), force_add=True)
    resumed.paths.output_dir = cfg.paths.output_dir
    resumed.ckpt_path = None if again else str(last)  # interrupted before training: from the start
    resumed.resume = None
    resumed.trial = None  # a search's trial ended with its job; the continuation is a plain run
    resumed.resumed_from = str(source)
    if process_rank() == 0:  # DDP workers re-read the same run; rank 0 keeps the record
        OmegaConf.save(resumed, Path(cfg.paths.output_dir) / ".hydra" / "config.yaml")
    return resumed


def interrupted_before_training(run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` was stopped by a signal before its first step (its
    metrics.json says so): resuming it starts it again with its config."""
    import json

    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(metrics, dict)
        and metrics.get("status") == "interrupted"
        and metrics.get("phase") in ("start-up", "sanity check")
    )
