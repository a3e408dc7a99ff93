"""Check a run's settings against their declarations, before anything is built or trained.

rnnlab's parts check their own settings when they are built (their constructors declare
them, rnnlab/declared.py); this module checks what the run reads itself (run/schema.py: the
root keys of conf/train.yaml, the trainer, the optimizer) and the relations between
settings that no single declaration sees (run/contradictions.py: a budget beside a step limit).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnlab import CONFIG_DIR
from rnnlab.declared import Settings, check
from rnnlab.errors import ConfigError
from rnnlab.run.schema import DECLARED, TrainSettings, budget_seconds

__all__ = ["budget_seconds", "check", "check_run", "check_trainer", "config_groups", "root_settings"]


@cache
def config_groups() -> tuple[str, ...]:
    """The config groups of conf/ (each a directory), read from the tree itself."""
    return tuple(sorted(path.name for path in CONFIG_DIR.iterdir() if path.is_dir() and path.name != "hydra"))


def root_settings(cfg: DictConfig, model: type[Settings]) -> Settings:
    """The root keys of a composed config against ``model``, the config groups the program
    composes aside (their parts check their own): ``model.groups``, or every group of conf/.
    A group the program does not compose (``+trainer.x`` on rnnlab-eval) is a key it does
    not read."""
    groups = config_groups() if model.groups is None else model.groups
    values = {str(key): _plain(cfg[key]) for key in cfg if key not in groups or key in model.model_fields}
    return check(model, values)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def check_run(cfg: DictConfig) -> None:
    """Everything a training run can check before it builds anything: its settings and the
    classes its config names."""
    from rnnlab.run.checkpoint import BUILT_GROUPS
    from rnnlab.run.contradictions import check_contradictions, given_keys, overrides_given
    from rnnlab.run.targets import check_config

    root_settings(cfg, TrainSettings)
    check_config(cfg, BUILT_GROUPS)
    check_declared("optimizer", cfg.optimizer)  # (the trainer's are checked where it is built)
    check_contradictions(cfg, given_keys(overrides_given()))


def check_declared(group: str, node: DictConfig | None) -> Settings | None:
    """A node whose class rnnlab configures but does not own, against its declaration (run/
    schema.py); None for a class without one (its own signature is checked when built)."""
    if node is None or str(node.get("_target_")) not in DECLARED:
        return None
    values = {k: v for k, v in _plain(node).items() if not (k.startswith("_") and k.endswith("_"))}
    return check(DECLARED[str(node._target_)], values, prefix=f"{group}.")


def check_trainer(trainer: DictConfig, budgeted: bool = False) -> None:
    """The trainer's declared settings, then that something ends the run (a budget beside
    another stopping rule is in run/contradictions.py)."""
    settings = check_declared("trainer", trainer)
    if not budgeted and settings.max_epochs == -1 and settings.max_steps == -1 and settings.max_time is None:
        raise ConfigError(
            "trainer.max_epochs",
            "-1 only with trainer.max_steps, trainer.max_time or budget set (else it never ends)",
            -1,
        )
