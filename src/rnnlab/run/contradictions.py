"""Settings that cannot both hold, in one table: each pair is refused before anything is built,
in one line that names both, and docs/errors.md lists the table (scripts/errors_doc.py).

A rule looks at the composed config and at the keys the user set (on the command line, or in
a sweep's overrides): a default the user never touched does not contradict a setting the user
chose (the default ``trainer.max_epochs: 20`` beside ``budget=10min`` is no mistake;
``trainer.max_epochs=5`` beside it is). A part's pairs within its own settings (``data.column``
with ``data.target``) are its own declaration's, checked when it is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError


def _get(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None)


@dataclass(frozen=True)
class Contradiction:
    """``first`` cannot be what it is while ``second`` is: ``allowed`` says what ``first`` must
    be instead. ``holds(cfg, given)`` is true when the pair contradicts (``given``: the keys the
    user set); ``example`` is a command line that trips it (docs and tests)."""

    first: str
    second: str
    allowed: str
    holds: Callable[[DictConfig, set[str]], bool]
    example: tuple[str, ...]

    def error(self, cfg: DictConfig) -> ConfigError:
        second = _get(cfg, self.second)
        shown = "null" if second is None else second
        return ConfigError(
            self.first, self.allowed, _shown(_get(cfg, self.first)), f"{self.second} is {shown}"
        )


def _shown(value: Any) -> Any:
    if OmegaConf.is_config(value):  # a callback's block: name it by what it watches
        return value.get("monitor", "on")
    return value


def _time_based(value: Any) -> bool:
    return isinstance(value, str)


def _no_validation(cfg: DictConfig) -> bool:
    return _get(cfg, "trainer.limit_val_batches") in (0, 0.0)


def _watches_val(cfg: DictConfig, key: str) -> bool:
    monitor = _get(cfg, f"{key}.monitor")
    return isinstance(monitor, str) and monitor.startswith("val/")


def _budget(cfg: DictConfig) -> bool:
    return _get(cfg, "budget") is not None


BUDGET_ENDS = "the budget ends the run and its schedule"
CONTRADICTIONS: list[Contradiction] = [
    Contradiction(
        "model.hidden_size",
        "model.params",
        "left unset with a parameter budget (model.params chooses the width; set one of the two)",
        lambda cfg, given: "model.hidden_size" in given and _get(cfg, "model.params") is not None,
        ("model.params=20000", "model.hidden_size=32"),
    ),
    Contradiction(
        "trainer.max_epochs",
        "budget",
        f"left unset with a budget ({BUDGET_ENDS}; set one of the two)",
        lambda cfg, given: "trainer.max_epochs" in given and _budget(cfg),
        ("budget=10min", "trainer.max_epochs=5"),
    ),
    Contradiction(
        "trainer.max_steps",
        "budget",
        f"-1 with a budget ({BUDGET_ENDS})",
        lambda cfg, given: _budget(cfg) and _get(cfg, "trainer.max_steps") != -1,
        ("budget=10min", "trainer.max_steps=860"),
    ),
    Contradiction(
        "trainer.max_time",
        "budget",
        f"null with a budget ({BUDGET_ENDS})",
        lambda cfg, given: _budget(cfg) and _get(cfg, "trainer.max_time") is not None,
        ("budget=10min", "trainer.max_time=00:00:10:00"),
    ),
    Contradiction(
        "scheduler.T_max",
        "budget",
        f"left unset with a budget ({BUDGET_ENDS}: the schedule's length is the budget's)",
        lambda cfg, given: _budget(cfg) and "scheduler.T_max" in given,
        ("scheduler=cosine", "budget=10min", "scheduler.T_max=50"),
    ),
    Contradiction(
        "callbacks.early_stopping",
        "trainer.val_check_interval",
        "null with a time-based trainer.val_check_interval (Lightning 2.6's EarlyStopping stops "
        "with an AttributeError on one): add ~callbacks.early_stopping",
        lambda cfg, given: (
            _get(cfg, "callbacks.early_stopping") is not None
            and _time_based(_get(cfg, "trainer.val_check_interval"))
        ),
        ("trainer.val_check_interval=00:00:01:00", "trainer.check_val_every_n_epoch=null"),
    ),
    Contradiction(
        "callbacks.early_stopping",
        "trainer.limit_val_batches",
        "null without validation (it watches a val/ metric that no validation writes): add "
        "~callbacks.early_stopping",
        lambda cfg, given: _no_validation(cfg) and _watches_val(cfg, "callbacks.early_stopping"),
        ("trainer.limit_val_batches=0",),
    ),
    Contradiction(
        "callbacks.model_checkpoint.monitor",
        "trainer.limit_val_batches",
        "null or a train/ metric without validation (no validation writes a val/ metric)",
        lambda cfg, given: _no_validation(cfg) and _watches_val(cfg, "callbacks.model_checkpoint"),
        ("trainer.limit_val_batches=0", "~callbacks.early_stopping"),
    ),
    Contradiction(
        "optimized_metric",
        "test",
        "a train/ or val/ metric with test=false (no test runs to write a test/ metric)",
        lambda cfg, given: (
            _get(cfg, "test") is False
            and any(str(m).startswith("test/") for m in _metrics(_get(cfg, "optimized_metric")))
        ),
        ("test=false", "optimized_metric=test/mse"),
    ),
    Contradiction(
        "ckpt_path",
        "resume",
        "null with resume= (a resumed run continues from its own checkpoints/last.ckpt)",
        lambda cfg, given: bool(_get(cfg, "ckpt_path")) and bool(_get(cfg, "resume")),
        ("resume={sine_dir}", "ckpt_path={sine}"),
    ),
]


def _metrics(value: Any) -> list:
    return list(value) if OmegaConf.is_list(value) or isinstance(value, list) else [value]


def given_keys(overrides: Iterable[str]) -> set[str]:
    """The keys of ``key=value`` overrides (``+key``, ``++key`` and ``~key`` too)."""
    return {override.split("=", 1)[0].lstrip("+~") for override in overrides}


def overrides_given() -> list[str]:
    """The overrides of this run (its command line, or its sweep job's), or none outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def check_contradictions(cfg: DictConfig, given: set[str]) -> None:
    """Refuse the first pair of settings in ``cfg`` that cannot both hold."""
    for rule in CONTRADICTIONS:
        if rule.holds(cfg, given):
            raise rule.error(cfg)
