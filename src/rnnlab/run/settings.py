"""Check the settings a run reads itself, before anything is built or trained.

Each config group's own class checks its arguments (a data module its window, the network
its sizes); this module checks the rest: the root keys of conf/train.yaml, the trainer
settings whose wrong values Lightning would only refuse mid-run or accept silently, and
keys that nothing reads.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnlab import CONFIG_DIR
from rnnlab.errors import ConfigError, check_choice
from rnnlab.search import objectives

SEED_RANGE = (0, 2**32 - 1)  # numpy's and Lightning's seeds are 32-bit unsigned


@cache
def config_groups() -> tuple[str, ...]:
    """The config groups of conf/ (each a directory), read from the tree itself."""
    return tuple(sorted(path.name for path in CONFIG_DIR.iterdir() if path.is_dir() and path.name != "hydra"))


@cache
def root_keys(config_name: str) -> frozenset[str]:
    """The keys a composed ``config_name`` may hold at its root: its own and its groups'."""
    root = OmegaConf.load(CONFIG_DIR / f"{config_name}.yaml")
    return frozenset(str(key) for key in root if key != "defaults") | set(config_groups())


def check_known_keys(cfg: DictConfig, config_name: str, added: tuple[str, ...] = ()) -> None:
    """Refuse a root key that no part of rnnlab reads (``+foo=1`` would be silently ignored)."""
    known = root_keys(config_name) | set(added)
    for key in cfg:
        if key not in known:
            closest = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f"; did you mean {closest[0]}?" if closest else ""
            raise ConfigError(str(key), f"a key rnnlab reads{hint}", cfg[key], "unknown key")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_seed(value: Any, setting: str = "seed") -> None:
    low, high = SEED_RANGE
    if value is not None and not (_is_int(value) and low <= value <= high):
        raise ConfigError(setting, f"an integer in [{low}, {high}], or null for no seed", value)


def check_bool(setting: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(setting, "true or false", value)


BUDGET_UNITS = {"s": 1, "min": 60, "h": 3600}
BUDGET_ALLOWED = "a training time such as 90s, 10min or 1.5h (or DD:HH:MM:SS), or null for none"


def budget_seconds(value: Any) -> float | None:
    """The seconds of a ``budget`` setting (``10min``, ``90s``, ``1.5h``, ``00:00:10:00``)."""
    if value is None:
        return None
    text = str(value).strip() if isinstance(value, str) else ""
    if match := re.fullmatch(r"(\d+(?:\.\d*)?)\s*(s|min|h)", text):
        seconds = float(match[1]) * BUDGET_UNITS[match[2]]
    elif match := re.fullmatch(r"(\d+):(\d\d):(\d\d):(\d\d)", text):  # Lightning's max_time form
        days, hours, minutes, secs = (int(part) for part in match.groups())
        seconds = float(((days * 24 + hours) * 60 + minutes) * 60 + secs)
    else:
        raise ConfigError("budget", BUDGET_ALLOWED, value)
    if seconds <= 0:
        raise ConfigError("budget", "a training time above zero, or null for none", value)
    return seconds


def check_trainer(trainer: DictConfig, budgeted: bool = False) -> None:
    """The trainer settings that end a run's budget or scale its steps. On a ``budget`` the
    budget ends training: a step limit or a second clock would cut its schedule short."""
    if budgeted:
        for name, off in (("max_steps", -1), ("max_time", None)):
            if trainer.get(name, off) != off:
                shown = "null" if off is None else off
                allowed = f"{shown} with a budget (the budget ends the run and its schedule)"
                raise ConfigError(f"trainer.{name}", allowed, trainer.get(name))
    else:
        check_run_length(trainer)
    for name, smallest in (("limit_train_batches", 1), ("limit_val_batches", 0), ("limit_test_batches", 0)):
        value = trainer.get(name, 1.0)
        fraction = isinstance(value, float) and (0 < value <= 1 or (smallest == 0 and value == 0))
        if fraction or (_is_int(value) and value >= smallest):
            continue
        low = "(0" if smallest else "[0"
        allowed = f"a fraction in {low}, 1] of each epoch, or a number of batches >= {smallest}"
        raise ConfigError(f"trainer.{name}", allowed, value)
    clip = trainer.get("gradient_clip_val")
    if clip is not None and not (_is_number(clip) and clip >= 0):
        raise ConfigError("trainer.gradient_clip_val", "a number >= 0, or null for no clipping", clip)
    if trainer.get("gradient_clip_algorithm") is not None:
        check_choice("trainer.gradient_clip_algorithm", trainer.gradient_clip_algorithm, ("norm", "value"))
    every = trainer.get("check_val_every_n_epoch", 1)
    if every is not None and not (_is_int(every) and every >= 1):
        raise ConfigError("trainer.check_val_every_n_epoch", "an integer >= 1", every)


def check_run_length(trainer: DictConfig) -> None:
    """The epoch and step limits of a run without a budget."""
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if not (_is_int(max_epochs) and (max_epochs >= 1 or max_epochs == -1)):
        raise ConfigError(
            "trainer.max_epochs",
            "an integer >= 1, or -1 for no epoch limit (with trainer.max_steps)",
            max_epochs,
        )
    if not (_is_int(max_steps) and (max_steps >= 1 or max_steps == -1)):
        raise ConfigError("trainer.max_steps", "an integer >= 1, or -1 for no step limit", max_steps)
    if max_epochs == -1 and max_steps == -1 and trainer.get("max_time") is None:
        raise ConfigError(
            "trainer.max_epochs",
            "-1 only with trainer.max_steps, trainer.max_time or budget set (else it never ends)",
            -1,
        )


def check_optimizer(optimizer: DictConfig) -> None:
    lr = optimizer.get("lr")
    if not (_is_number(lr) and lr > 0):
        raise ConfigError("optimizer.lr", "a number > 0 (a learning rate of 0 trains nothing)", lr)
    weight_decay = optimizer.get("weight_decay", 0)
    if not (_is_number(weight_decay) and weight_decay >= 0):
        raise ConfigError("optimizer.weight_decay", "a number >= 0", weight_decay)


def check_run(cfg: DictConfig) -> None:
    """Everything a training run can check before it builds anything: its settings and the
    classes its config names."""
    from rnnlab.run.checkpoint import BUILT_GROUPS
    from rnnlab.run.targets import check_config

    check_train_settings(cfg)
    check_config(cfg, BUILT_GROUPS)


def check_train_settings(cfg: DictConfig) -> None:
    """rnnlab-train's own settings, all of them, before anything is built."""
    check_known_keys(cfg, "train", added=("resumed_from",))
    check_seed(cfg.get("seed"))
    for name in ("ckpt_path", "resume"):
        if cfg.get(name) is not None and not isinstance(cfg[name], str):
            raise ConfigError(name, "a path, or null", cfg[name])
    if cfg.get("ckpt_path") and cfg.get("resume"):
        raise ConfigError(
            "ckpt_path",
            "null with resume= (a resumed run continues from its own checkpoints/last.ckpt)",
            cfg.ckpt_path,
        )
    budget_seconds(cfg.get("budget"))
    check_bool("test", cfg.get("test", True))
    check_bool("overwrite", cfg.get("overwrite", False))
    objectives(cfg)  # optimized_metric and optimized_mode
    probe = cfg.get("probe")
    if probe is not None and not (
        OmegaConf.is_list(probe) and len(probe) > 0 and all(_is_number(v) for v in probe)
    ):
        raise ConfigError("probe", "a non-empty list of numbers (a window to forecast from), or null", probe)
    check_optimizer(cfg.optimizer)  # (the trainer's settings are checked where it is built)
