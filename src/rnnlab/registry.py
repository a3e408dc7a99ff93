"""The parts a config may build, found where Python packages declare them: entry points.

rnnlab registers its own classes in its pyproject.toml, one line each; an installed package
registers its own the same way, and a config may then name them like rnnlab's:

    [project.entry-points."rnnlab.models"]
    indrnn = "own_model.indrnn:IndRNNNet"        # model: _target_: own_model.indrnn.IndRNNNet
    [project.entry-points."rnnlab.conf"]
    own_model = "own_model.conf"                  # its config groups: conf/model/indrnn.yaml

Nothing else is ever built from a config: a ``_target_`` that no installed package
registered for its config group is refused before anything is imported (run/targets.py).
Reading the registry imports nothing: entry points are read from the packages' metadata.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from pathlib import Path

# config group -> the entry point group its classes are registered in
GROUPS = {
    "data": "rnnlab.data",
    "model": "rnnlab.models",
    "optimizer": "rnnlab.optimizers",
    "scheduler": "rnnlab.schedulers",
    "trainer": "rnnlab.trainer",  # the Trainer and its profilers
    "callbacks": "rnnlab.callbacks",
    "logger": "rnnlab.loggers",
}
TASKS = "rnnlab.tasks"  # spec.objective -> the LightningModule that trains on it
CONFIGS = "rnnlab.conf"  # packages of config groups, searched after rnnlab's own

log = logging.getLogger(__name__)


def _entry_points(group: str) -> EntryPoints:
    """The entry points of ``group``, read once per state of sys.path (what is installed
    changes only with it): a run checks dozens of targets, each a scan of every package."""
    return _installed(tuple(sys.path)).select(group=group)


@functools.lru_cache(maxsize=4)
def _installed(path: tuple[str, ...]) -> EntryPoints:
    return entry_points()


def target(entry: EntryPoint) -> str:
    """The ``_target_`` that names a registered class: ``module.Class``."""
    return f"{entry.module}.{entry.attr}"


def registered(group: str) -> dict[str, str]:
    """``{_target_: registered name}`` of the classes config group ``group`` may build."""
    if group not in GROUPS:
        return {}
    return {target(entry): entry.name for entry in _entry_points(GROUPS[group])}


def tasks() -> dict[str, EntryPoint]:
    """``{objective: entry point}`` of the LightningModules, one per objective."""
    found: dict[str, EntryPoint] = {}
    for entry in _entry_points(TASKS):
        if entry.name in found and found[entry.name].value != entry.value:
            raise RuntimeError(
                f"two installed packages register the objective {entry.name!r}: "
                f"{found[entry.name].value} and {entry.value}"
            )
        found[entry.name] = entry
    return found


def task_class(objective: str) -> type:
    """The LightningModule registered for ``objective`` (its module is imported now)."""
    return tasks()[objective].load()


def config_dirs() -> list[Path]:
    """The config directories installed packages registered (``rnnlab.conf``), found without
    importing the packages."""
    dirs = []
    for entry in _entry_points(CONFIGS):
        top, *inner = entry.value.split(".")
        spec = importlib.util.find_spec(top)
        found = [Path(p, *inner) for p in (spec.submodule_search_locations or [])] if spec else []
        found = [path for path in found if path.is_dir()]
        if found:
            dirs.append(found[0])
        else:
            log.warning("%s registers config dir %s, which is not installed", entry.name, entry.value)
    return dirs
