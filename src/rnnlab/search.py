"""Optuna searches: what the sweeper (``hydra/sweeper=optuna``, in hydra_plugins.rnnlab_sweepers)
and the jobs it launches share.

- the search-space grammar of ``hydra.sweeper.params``: ``choice(a, b)``, ``range(1, 9, 2)``,
  ``interval(0.0, 0.3)``, ``int(interval(8, 64))`` and ``tag(log, interval(1e-4, 1e-2))``;
- storages by name: sqlite in the sweep dir, an Optuna journal file (safe on NFS), or a
  database URL;
- samplers and pruners by name: nothing in a config names code to run;
- a job's outcome, which the job returns to the sweeper: its status and its objective values.

Optuna is imported inside the functions: Hydra imports every sweeper plugin when a plain run
starts, and a plain run never needs Optuna.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError, first_line

if TYPE_CHECKING:
    import optuna

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "hyperband")
DIRECTIONS = {"min": "minimize", "max": "maximize", "minimize": "minimize", "maximize": "maximize"}
JOURNAL = ".journal"
TRIAL_KEYS = ("study", "storage", "number", "pruner", "startup_trials", "warmup_epochs")


def objectives(cfg: DictConfig | dict) -> tuple[list[str], list[str]]:
    """``optimized_metric`` and ``optimized_mode`` as lists of the same length: one metric for a
    plain search, several (each with its mode) for a multi-objective one."""
    metric, mode = cfg.get("optimized_metric"), cfg.get("optimized_mode", "min")
    metrics = list(metric) if OmegaConf.is_list(metric) or isinstance(metric, list) else [metric]
    modes = list(mode) if OmegaConf.is_list(mode) or isinstance(mode, list) else [mode] * len(metrics)
    if not metrics or not all(isinstance(m, str) and m for m in metrics):
        allowed = "a metric name of metrics.json (e.g. val/loss_best), or a list of them"
        raise ConfigError("optimized_metric", allowed, metrics if len(metrics) > 1 else metric)
    if len(modes) != len(metrics) or any(m not in ("min", "max") for m in modes):
        allowed = (
            "min or max"
            if len(metrics) == 1
            else f"a list of {len(metrics)} of min or max, one per optimized_metric"
        )
        raise ConfigError("optimized_mode", allowed, modes if len(modes) > 1 else mode)
    return metrics, modes


def outcome(cfg: DictConfig, metrics: dict[str, Any]) -> dict[str, Any]:
    """What a sweep job returns to its sweeper: ``status`` (ok, pruned, failed, diverged) and
    ``values``, the optimized metrics. A job that finished without a finite value of each
    objective failed as a trial (a value nobody measured is never a study's best); ``missing``
    then names the objective and ``wrote`` the metrics the job did write."""
    names, _ = objectives(cfg)
    result: dict[str, Any] = {"status": metrics.get("status", "ok"), "values": []}
    if "error" in metrics:
        result["error"] = metrics["error"]
    if result["status"] != "ok":
        return result
    for name in names:
        value = metrics.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            split = name.split("/")[0]  # the metrics of the objective's split first: the likely ones
            wrote = sorted(
                (k for k, v in metrics.items() if isinstance(v, int | float) and v is not True),
                key=lambda k: (k.split("/")[0] != split, k),
            )
            reason = "it did not write it" if value is None else f"it wrote {value!r}, not a finite number"
            return {
                "status": "failed",
                "values": [],
                "missing": name,
                "wrote": wrote,
                "error": str(missing_objective(name, wrote, reason)),
            }
        result["values"].append(float(value))
    return result


def missing_objective(name: str, wrote: list[str], detail: str) -> ConfigError:
    from rnnlab.errors import did_you_mean

    return ConfigError(
        "optimized_metric", f"a metric the runs write{did_you_mean(name, wrote)}", name, detail
    )


# -- the search space -------------------------------------------------------------------------


def distribution(name: str, text: str) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution of one ``hydra.sweeper.params`` entry, e.g. ``choice(16, 32)``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    setting = f"hydra.sweeper.params.{name}"
    allowed = (
        "choice(...), range(start, stop[, step]), interval(low, high), int(interval(...)) "
        "or tag(log, interval(...))"
    )
    try:
        (override,) = OverridesParser.create().parse_overrides([f"{name}={text}"])
    except HydraException as error:
        raise ConfigError(setting, allowed, text, str(error).splitlines()[0]) from None
    value = override.value()
    if override.is_choice_sweep():
        choices = value.list
        if not choices or not all(c is None or isinstance(c, bool | int | float | str) for c in choices):
            raise ConfigError(setting, "a choice of numbers, strings, booleans or null", text)
        return CategoricalDistribution(choices)
    if override.is_range_sweep():
        choices = list(override.sweep_iterator())
        if not choices:
            raise ConfigError(setting, "a range with at least one value", text)
        return CategoricalDistribution(choices)
    if override.is_interval_sweep():
        low, high, log = value.start, value.end, "log" in value.tags
        if not low < high or (log and low <= 0):
            raise ConfigError(setting, "an interval with low < high (and low > 0 with tag(log))", text)
        if isinstance(low, int) and isinstance(high, int):
            return IntDistribution(low, high, log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise ConfigError(setting, allowed, text)


def search_space(params: dict[str, str]) -> dict[str, Any]:
    return {name: distribution(name, str(text)) for name, text in params.items()}


def override(name: str, value: Any) -> str:
    """``name=value`` as Hydra reads it back: strings quoted, floats in full precision."""
    return f"{name}={_hydra_value(value)}"


def _hydra_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        if re.fullmatch(r"[A-Za-z_][\w./-]*", value) and value.lower() not in ("true", "false", "null"):
            return value  # a plain name, e.g. a config group's option
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    if isinstance(value, dict):
        return "{" + ",".join(f"{key}:{_hydra_value(item)}" for key, item in value.items()) + "}"
    return repr(value)


# -- storages, samplers, pruners --------------------------------------------------------------


def storage_url(storage: str | None, sweep_dir: Path) -> str:
    """Where the study lives: null -> sqlite in the sweep dir; ``journal`` -> an Optuna journal
    file in the sweep dir; a path ending in .journal -> that journal file; else a database URL."""
    if storage is None:
        return f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}"
    if storage == "journal":
        return str((sweep_dir / f"optuna{JOURNAL}").resolve())
    if storage.endswith(JOURNAL):
        return str(Path(storage).expanduser().resolve())
    if "://" in storage:
        return storage
    allowed = "null (sqlite in the sweep dir), journal, a file path ending in .journal, or a database URL"
    raise ConfigError("hydra.sweeper.storage", allowed, storage)


def open_storage(url: str, read_only: bool = False) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``. A journal file appends every change under a file lock, the
    way to share one study between processes on a shared file system; sqlite waits up to a
    minute for another process's write. ``read_only``: create nothing (no tables, no file).
    A file that is not what its URL claims (a journal that is not a journal, a sqlite file of
    another program) is refused before Optuna writes to it."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    setting = "hydra.sweeper.storage"
    if url.endswith(JOURNAL):
        path = Path(url)
        if read_only and not path.is_file():
            raise ConfigError(setting, "an existing Optuna journal file", url)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        allowed = "an Optuna journal file (one JSON operation per line)"
        if path.is_file() and not _journal_start(path):
            raise ConfigError(setting, allowed, url, "its first line is not an Optuna operation")
        try:
            storage = JournalStorage(JournalFileBackend(url))
            storage.get_all_studies()  # replays the file: a line that is no operation fails here
            return storage
        except Exception as error:
            raise ConfigError(setting, allowed, url, first_line(error)) from None
    sqlite = _sqlite_file(url)
    if sqlite is not None:
        _check_sqlite(sqlite, url, read_only)
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine, skip_table_creation=read_only)
    except Exception as error:  # SQLAlchemy: no such driver, database, or file
        raise ConfigError(setting, "a storage Optuna can open", url, first_line(error)) from None


def _journal_start(path: Path) -> bool:
    """Whether a journal file is empty or starts with an Optuna operation (Optuna itself
    reads a last line that is not one as a write still under way, and appends after it)."""
    import json

    with path.open("rb") as file:
        first = file.readline()
    if not first:
        return True
    try:
        operation = json.loads(first)
    except ValueError:
        return False
    return isinstance(operation, dict) and "op_code" in operation


def _sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL (``file:path?mode=ro&uri=true`` too); None for
    another database or sqlite in memory."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :].split("?", 1)[0].removeprefix("file:")
    return Path(path) if path and path != ":memory:" else None


def _check_sqlite(path: Path, url: str, read_only: bool) -> None:
    """An existing sqlite file must be an Optuna study's (or empty): Optuna would add its
    tables to another program's database."""
    import sqlite3

    if read_only and not path.is_file():
        raise ConfigError("hydra.sweeper.storage", "an existing Optuna sqlite file", url)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb") as file:
        header = file.read(16)
    if header != b"SQLite format 3\x00":
        raise ConfigError(
            "hydra.sweeper.storage", "an Optuna sqlite file", url, "the file is not a sqlite database"
        )
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        connection.close()
    if tables and "studies" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise ConfigError(
            "hydra.sweeper.storage",
            "an Optuna sqlite file (or a new one)",
            url,
            f"it is another program's database (tables {shown}); Optuna would add its own",
        )


def trial_id(storage: optuna.storages.BaseStorage, study_name: str, number: int) -> int:
    """The storage's id of trial ``number`` of a study, through the storage's public API (a
    FrozenTrial keeps it only in a private field)."""
    study_id = storage.get_study_id_from_name(study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


def stored_study(sweep_dir: Path, storage: str | None = None) -> optuna.Study | None:
    """The study of a search, read-only: the one in its sweep dir (optuna.db, optuna.journal)
    or in ``storage``; None for a sweep that is not a search. A sqlite file is opened in
    read-only mode: reading never writes to someone's study."""
    import optuna

    if storage is None:
        if (sweep_dir / "optuna.db").is_file():
            storage = f"sqlite:///file:{(sweep_dir / 'optuna.db').resolve()}?mode=ro&uri=true"
        elif (sweep_dir / f"optuna{JOURNAL}").is_file():
            storage = str(sweep_dir / f"optuna{JOURNAL}")
        else:
            return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    opened = open_storage(storage, read_only=True)
    names = optuna.get_all_study_names(opened)
    if len(names) != 1:  # rnnlab's sweeper keeps one study per storage
        return None
    return optuna.load_study(study_name=names[0], storage=opened)


def make_sampler(
    name: str, seed: int | None, space: dict, startup_trials: int
) -> optuna.samplers.BaseSampler:
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":  # the points are enqueued in the study (enqueue_grid); the rest is drawn
        grid(space)
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401  (Optuna's CmaEsSampler needs it, and says so only when sampling)
        except ImportError:
            raise ConfigError(
                "hydra.sweeper.sampler",
                "tpe, random or grid without the cmaes package (pip install cmaes)",
                name,
            ) from None
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup_trials)
    raise ConfigError("hydra.sweeper.sampler", "one of " + ", ".join(SAMPLERS), name)


def grid(space: dict) -> dict[str, list]:
    """The grid sampler's points: every choice (and range) of the space; intervals have none."""
    from optuna.distributions import CategoricalDistribution

    points = {}
    for name, dist in space.items():
        if not isinstance(dist, CategoricalDistribution):
            raise ConfigError(
                f"hydra.sweeper.params.{name}", "choice(...) or range(...) with sampler=grid", "an interval"
            )
        points[name] = list(dist.choices)
    return points


def enqueue_grid(study: optuna.Study, space: dict) -> int:
    """Queue every point of the grid that the study has not seen, and return the grid's size.
    Sweepers sharing the study take queued trials one at a time, each point to one sweeper
    (Optuna's grid sampler would pick at random and can pick a point twice)."""
    import itertools

    points = grid(space)
    names = list(points)
    combos = list(itertools.product(*points.values()))
    for combo in combos:
        study.enqueue_trial(dict(zip(names, combo, strict=True)), skip_if_exists=True)
    return len(combos)


def make_pruner(name: str | None, startup_trials: int, warmup_epochs: int) -> optuna.pruners.BasePruner:
    """A pruner by name. ``median`` stops a trial whose monitored metric is worse than the
    median of earlier trials at the same epoch, once ``startup_trials`` trials have finished
    and the trial is past ``warmup_epochs``; ``hyperband`` runs successive halving brackets."""
    import optuna

    if name is None:
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, warmup_epochs))
    raise ConfigError("hydra.sweeper.pruner", "median, hyperband or null", name)


def check_trial(trial: DictConfig) -> None:
    """The ``trial`` block the sweeper gives each job (untrusted when it comes from a file)."""
    if not OmegaConf.is_dict(trial) or set(trial) != set(TRIAL_KEYS):
        raise ConfigError(
            "trial", f"null, or the block the optuna sweeper sets ({', '.join(TRIAL_KEYS)})", trial
        )
    for key in ("study", "storage"):
        if not isinstance(trial.get(key), str):
            raise ConfigError(f"trial.{key}", "a string (set by the optuna sweeper)", trial.get(key))
    number = trial.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ConfigError("trial.number", "an integer >= 0 (set by the optuna sweeper)", number)
    if trial.get("pruner") not in (None, *PRUNERS):
        raise ConfigError("trial.pruner", "median, hyperband or null", trial.get("pruner"))
    for key in ("startup_trials", "warmup_epochs"):
        value = trial.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"trial.{key}", "an integer >= 0 (set by the optuna sweeper)", value)
