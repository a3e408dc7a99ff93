"""Build objects from config without letting a config name code to run.

A config may come from someone else: a colleague's experiment file, the ``.hydra/config.yaml``
of a run to resume, the config stored inside a checkpoint. Hydra's ``instantiate`` would call
whatever its ``_target_`` names (``builtins.open``, ``shutil.copyfile``, ...), so every object
is built through :func:`instantiate` here, which first checks each ``_target_`` of the
config group, at any depth, against the classes registered for that group
(rnnlab/registry.py: rnnlab's own and those of packages the user installed).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_class
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig, OmegaConf

from rnnlab import registry
from rnnlab.errors import ConfigError, config_group, did_you_mean, first_line


def _targets(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(key path, target) for every ``_target_`` in a plain container, depth first."""
    if isinstance(node, Mapping):
        if "_target_" in node:
            yield path, node["_target_"]
        for key, value in node.items():
            yield from _targets(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _targets(value, f"{path}[{index}]")


def check_targets(config: Any, path: str, group: str) -> None:
    """Refuse any ``_target_`` under ``config`` (a plain container found at key ``path``)
    that is not one of the classes config group ``group`` may build."""
    allowed = registry.registered(group)
    for where, target in _targets(config, path):
        if target not in allowed:
            choices = (
                "a class registered for this group: " + ", ".join(sorted(allowed))
                if allowed
                else "absent (nothing here is built)"
            )
            raise ConfigError(
                f"{where}._target_",
                choices,
                target,
                "rnnlab builds only classes it knows: those rnnlab or an installed package registered",
            )


def check_config(cfg: DictConfig, groups: tuple[str, ...]) -> None:
    """Check every ``_target_`` of a whole run config: the groups rnnlab builds may name
    their known classes, any other key none."""
    container = OmegaConf.to_container(cfg, resolve=False)
    for key, value in container.items():
        check_targets(value, str(key), str(key) if key in groups else "")


def _accepted(cls: type) -> tuple[set[str], bool]:
    """The keyword arguments ``cls`` takes, following ``**kwargs`` up its base classes."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            return names - {"self"}, True
    return names - {"self"}, False


def check_keys(config: Mapping, path: str, given: tuple[str, ...] = ()) -> None:
    """Refuse a key that the target class does not take (``+model.foo=1`` would otherwise
    reach its constructor as an unexpected keyword and end in a traceback)."""
    cls = get_class(config["_target_"])
    accepted, closed = _accepted(cls)
    if not closed:
        return
    for key in config:
        if (key.startswith("_") and key.endswith("_")) or key in accepted or key in given:
            continue
        raise ConfigError(
            f"{path}.{key}",
            f"a setting that {config['_target_']} takes{did_you_mean(key, accepted)}",
            config[key],
            "unknown key",
        )


def instantiate(group: str, config: DictConfig | Mapping, path: str | None = None, **given: Any) -> Any:
    """``hydra.utils.instantiate`` of a config group's node, after checking its targets
    (see the module docstring) and keys; errors name the full key (``model.hidden_size``)."""
    path = path or group
    container = OmegaConf.to_container(config, resolve=True) if isinstance(config, DictConfig) else config
    check_targets(container, path, group)
    if isinstance(container, Mapping) and "_target_" in container:
        check_keys(container, path, tuple(given))
    try:
        with config_group(path):
            return hydra_instantiate(container, _convert_="all", **given)
    except InstantiationException as error:
        target = str(container.get("_target_", "")) if isinstance(container, Mapping) else ""
        if target.startswith("rnnlab."):  # rnnlab's classes report ConfigErrors; anything else is a bug
            raise
        detail = first_line(error.__cause__ or error)
        raise ConfigError(path, f"settings that {target} accepts", None, detail) from None
