"""rnnlab's Optuna sweeper (``hydra/sweeper=optuna``), on the current Optuna.

Hydra loads sweepers only from the ``hydra_plugins`` package, hence this module's home. It
asks the study for trials, launches them as jobs through Hydra's launcher (local, joblib,
submitit/SLURM) and tells the study what each job returned:

- the study lives in ``<sweep dir>/optuna.db`` (sqlite), an Optuna journal file (``storage:
  journal``, safe on NFS) or a database; ``n_trials`` is the study's total, so the same
  command again resumes it, and several sweepers started on one study share its trials
  (a SLURM array, or the command run twice): each asks for the next trial number, and a
  trial numbered past ``n_trials`` is dropped before it runs;
- each sweeper keeps a heartbeat on its running trials; a trial whose sweeper died (killed,
  or its node lost) goes silent and is failed and run again by the next sweeper to look;
- the sampler is seeded per trial (``seed + trial number``): the same invocations give the
  same trials, and two sweepers never draw the same parameters for different trials;
- job directories are numbered by trial, so nothing ever overwrites a job;
- a job learns its trial through the ``trial`` config block, reports its validation metric
  after every epoch and stops when the pruner says so (rnnlab.callbacks.TrialPruning).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Literal

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from rnnlab import search
from rnnlab.declared import Annotated, Setting, Settings, check
from rnnlab.errors import ConfigError

log = logging.getLogger(__name__)


class OptunaSettings(Settings):
    """``hydra.sweeper`` (conf/hydra/sweeper/optuna.yaml)."""

    sampler: Annotated[
        Literal[search.SAMPLERS],
        Setting("tpe, random, grid (choices only) or cmaes (needs cmaes)"),
    ] = "tpe"
    seed: Annotated[int | None, Setting("trial n draws with seed + n", ge=0)] = None
    direction: Annotated[
        str | list[str],
        Setting(
            "which way is better, one per objective",
            "min or max (or minimize, maximize), or a list of them for several objectives",
        ),
    ] = "min"
    storage: Annotated[
        str | None,
        Setting("null: sqlite in the sweep dir; journal; a *.journal path; a URL"),
    ] = None
    study_name: Annotated[str, Setting("its name in the storage", "a non-empty name", min_length=1)] = (
        "rnnlab"
    )
    n_trials: Annotated[
        int, Setting("trials in the study in all", "an integer >= 1 (the trials of the study in all)", ge=1)
    ] = 20
    n_jobs: Annotated[int, Setting("trials launched at once", ge=1)] = 1
    pruner: Annotated[
        Literal[search.PRUNERS] | None, Setting("stops trials behind the others", "median, hyperband or null")
    ] = None
    startup_trials: Annotated[int, Setting("trials before TPE models and the pruner prunes", ge=0)] = 5
    warmup_epochs: Annotated[int, Setting("epochs of every trial that are never pruned", ge=0)] = 0
    heartbeat_s: Annotated[int, Setting("a running trial silent for 3 beats is run again", ge=1)] = 30
    params: Annotated[dict | None, Setting("the search space: key -> choice(...), interval(...), ...")] = None


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        plain = {k: OmegaConf.to_container(v) if OmegaConf.is_config(v) else v for k, v in settings.items()}
        declared = check(OptunaSettings, plain, prefix="hydra.sweeper.")  # Hydra passes its containers
        direction = declared.direction
        directions = list(direction) if isinstance(direction, list) else [direction]
        if not directions or any(str(d) not in search.DIRECTIONS for d in directions):
            allowed = "min or max (or minimize, maximize), or a list of them for several objectives"
            raise ConfigError("hydra.sweeper.direction", allowed, direction)
        if declared.pruner is not None and len(directions) > 1:
            allowed = "null for a search of several objectives (Optuna prunes on one)"
            raise ConfigError("hydra.sweeper.pruner", allowed, declared.pruner)
        self.directions = [search.DIRECTIONS[str(d)] for d in directions]
        self.sampler, self.seed, self.storage = declared.sampler, declared.seed, declared.storage
        self.study_name, self.n_trials, self.n_jobs = declared.study_name, declared.n_trials, declared.n_jobs
        self.pruner, self.startup_trials = declared.pruner, declared.startup_trials
        self.warmup_epochs, self.heartbeat_s = declared.warmup_epochs, declared.heartbeat_s
        self.params = {str(k): str(v) for k, v in (declared.params or {}).items()}

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        metrics, _ = search.objectives(config)
        if len(metrics) != len(self.directions):
            allowed = f"{len(metrics)} direction(s), one per optimized_metric"
            raise ConfigError("hydra.sweeper.direction", allowed, self.directions)

    # -- the search ---------------------------------------------------------------------------

    def sweep(self, arguments: list[str]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space, fixed = self._split(arguments)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        url = search.storage_url(self.storage, self.sweep_dir)
        self.opened = search.open_storage(url)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=self.opened,
            directions=self.directions,
            load_if_exists=True,
            sampler=TrialSeeded(self.sampler, self.seed, space, self.startup_trials),
        )
        self._check_stored(study, space)
        limit = self.n_trials
        if self.sampler == "grid":
            points = search.enqueue_grid(study, space)
            if points < limit:
                log.info("the grid has %d points: the study ends there, not at n_trials=%d", points, limit)
                limit = points
        self._fail_silent(study)
        done = _counted(study)
        log.info("Study %s in %s: %d trials so far, %d in all", self.study_name, url, len(done), limit)
        trial_block = {
            "study": self.study_name,
            "storage": url,
            "pruner": self.pruner,
            "startup_trials": self.startup_trials,
            "warmup_epochs": self.warmup_epochs,
        }
        missing: list[dict] = []  # the last batch's jobs that finished without the objective
        with Heartbeat(study, self.heartbeat_s) as heartbeat:
            while True:
                self._fail_silent(study)
                batch = min(self.n_jobs, limit - len(_counted(study)))
                if batch <= 0:
                    break
                trials = [study.ask(space) for _ in range(batch)]
                trials = self._drop_surplus(study, trials, limit)
                if not trials:
                    break
                heartbeat.watch(trials)
                jobs = [
                    [
                        *fixed,
                        *(search.override(name, value) for name, value in trial.params.items()),
                        search.override("trial", {**trial_block, "number": trial.number}),
                        # the job dir is the trial's number, even when another sweeper's
                        # trials came between this batch's
                        f"hydra.sweep.subdir={trial.number}",
                    ]
                    for trial in trials
                ]
                try:
                    returns = self.launcher.launch(jobs, initial_job_idx=trials[0].number)
                except BaseException:
                    for trial in trials:  # the search was stopped: these trials run again later
                        self._interrupt(study, trial.number)
                    raise
                finally:
                    heartbeat.unwatch(trials)
                told = [self._tell(study, trial, job) for trial, job in zip(trials, returns, strict=True)]
                missing = [r for r in told if "missing" in r]
                if missing and len(missing) == len(told) and not _completed(study):
                    break  # the objective is not a metric these runs write: more trials would not either
        self._write_results(study)
        if not _completed(study) and missing:
            first = missing[0]
            raise search.missing_objective(
                first["missing"],
                first["wrote"],
                f"no trial finished with it ({len(missing)} failed; the first wrote "
                f"{', '.join(first['wrote'][:12])}); the search stopped",
            )

    def _split(self, arguments: list[str]) -> tuple[dict, list[str]]:
        """The search space (sweeper params, then sweep overrides on the command line) and the
        fixed overrides every job gets."""
        params = dict(self.params)
        fixed = []
        for override in OverridesParser.create().parse_overrides(arguments):
            if override.is_sweep_override():
                params[override.get_key_element()] = override.input_line.split("=", 1)[1]
            else:
                fixed.append(override.input_line)
        if not params:
            raise ConfigError(
                "hydra.sweeper.params",
                "a search space of at least one setting, e.g. optimizer.lr: tag(log, interval(1e-4, 1e-2))",
                None,
            )
        return search.search_space(params), fixed

    def _check_stored(self, study, space: dict) -> None:
        """A resumed study keeps its objectives and its search space."""
        if (
            len(study.directions) != len(self.directions)
            or [d.name.lower() for d in study.directions] != self.directions
        ):
            raise ConfigError(
                "hydra.sweeper.direction",
                "the directions the stored study began with (a new objective needs a new hydra.sweep.dir)",
                self.directions,
                f"stored {[d.name.lower() for d in study.directions]}",
            )
        for trial in study.get_trials(deepcopy=False):
            if trial.distributions and trial.distributions != space:
                stored = {k: _shown(v) for k, v in trial.distributions.items()}
                raise ConfigError(
                    "hydra.sweeper.params",
                    "the search space the stored study began with (a new space needs a new hydra.sweep.dir)",
                    {k: _shown(v) for k, v in space.items()},
                    f"stored {stored}",
                )

    def _fail_silent(self, study) -> None:
        """Fail the running trials whose sweeper stopped beating (killed, or its node lost):
        they are run again as new trials."""
        from optuna.trial import TrialState

        now = time.time()
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            last = trial.user_attrs.get("heartbeat", trial.datetime_start.timestamp())
            if now - last > 3 * self.heartbeat_s:
                log.info("trial %d went silent %.0f s ago: failed, and run again", trial.number, now - last)
                self._interrupt(study, trial.number)

    def _interrupt(self, study, number: int) -> None:
        """Fail a running trial whose sweeper stopped, marked to be run again as a new trial."""
        from optuna.trial import TrialState

        trial = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
        if trial.state == TrialState.RUNNING:  # a FrozenTrial has no setter: the storage's own
            trial_id = search.trial_id(self.opened, study.study_name, number)
            self.opened.set_trial_user_attr(trial_id, "interrupted", True)
            study.tell(number, state=TrialState.FAIL, skip_if_finished=True)

    def _drop_surplus(self, study, trials: list, limit: int) -> list:
        """Another sweeper on the same study may have asked at the same moment: the first
        ``limit`` trials by number run, and those past it are dropped before they run."""
        from optuna.trial import TrialState

        counted = sorted(t.number for t in _counted(study))
        keep = set(counted[:limit])
        for trial in trials:
            if trial.number not in keep:
                trial.set_user_attr("surplus", True)
                study.tell(trial, state=TrialState.FAIL)
        return [t for t in trials if t.number in keep]

    def _tell(self, study, trial, job) -> dict:
        """Tell the study how a job ended; return what the job returned."""
        from optuna.trial import TrialState

        try:
            result = job.return_value
        except Exception as error:  # the job raised: a bug, not a user's mistake
            trial.set_user_attr("error", f"{type(error).__name__}: {error}"[:500])
            study.tell(trial, state=TrialState.FAIL)
            return {"status": "failed"}
        if not isinstance(result, dict):
            result = {"status": "failed"}
        status = result.get("status", "ok")
        trial.set_user_attr("status", status)
        if status == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
        elif status == "ok":
            values = result["values"]
            study.tell(trial, values[0] if len(values) == 1 else values)
        else:  # failed, diverged, or finished without the objective: failed, with the job's one line
            if result.get("error"):
                trial.set_user_attr("error", str(result["error"])[:500])
            study.tell(trial, state=TrialState.FAIL)
        return result

    def _write_results(self, study) -> None:
        """``optimization_results.yaml``: the best trial, or for several objectives the trials
        on the Pareto front."""
        results: dict[str, Any] = {"name": "optuna", "study_name": self.study_name}
        if not _completed(study):
            results["best"] = None
        elif len(self.directions) == 1:
            results["best_trial"] = study.best_trial.number
            results["best_params"] = study.best_params
            results["best_value"] = study.best_value
        else:
            results["best_trials"] = [
                {"trial": t.number, "params": t.params, "values": t.values} for t in study.best_trials
            ]
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / "optimization_results.yaml")


class TrialSeeded:
    """A sampler seeded per trial with ``seed + trial number``: draws depend on the trial and the
    study's history only, not on which sweeper asked or how many asked before it."""

    def __init__(self, name: str, seed: int | None, space: dict, startup_trials: int) -> None:
        self.name, self.seed, self.space, self.startup_trials = name, seed, space, startup_trials
        self._samplers: dict[int, Any] = {}
        search.make_sampler(name, seed, space, startup_trials)  # a bad sampler fails before any trial

    def _for(self, trial):
        if trial.number not in self._samplers:
            seed = None if self.seed is None else self.seed + trial.number
            self._samplers = {
                trial.number: search.make_sampler(self.name, seed, self.space, self.startup_trials)
            }
        return self._samplers[trial.number]

    def infer_relative_search_space(self, study, trial):
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        self._for(trial).after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._samplers = {}


class Heartbeat:
    """Writes the time into the ``heartbeat`` user attribute of this sweeper's running trials
    every ``seconds``, from a thread, while their jobs run."""

    def __init__(self, study, seconds: int) -> None:
        self.study, self.seconds = study, seconds
        self.running: dict[int, Any] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def watch(self, trials: list) -> None:
        for trial in trials:
            trial.set_user_attr("worker", self.worker)
            trial.set_user_attr("heartbeat", time.time())
        with self.lock:
            self.running.update({t.number: t for t in trials})

    def unwatch(self, trials: list) -> None:
        with self.lock:
            for trial in trials:
                self.running.pop(trial.number, None)

    def _beat(self) -> None:
        while not self.stop.wait(self.seconds):
            with self.lock:
                trials = list(self.running.values())
            for trial in trials:
                try:
                    trial.set_user_attr("heartbeat", time.time())
                except Exception as error:  # finished meanwhile, or the storage is busy: next beat
                    log.debug("heartbeat of trial %d: %s", trial.number, error)

    def __enter__(self) -> Heartbeat:
        self.thread = threading.Thread(target=self._beat, name="optuna-heartbeat", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def _completed(study) -> list:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _counted(study) -> list:
    """The trials that count toward n_trials: all but those failed by a stopped sweeper (run
    again), those dropped past the total and grid points queued but not yet asked for."""
    from optuna.trial import TrialState

    return [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state != TrialState.WAITING
        and not t.user_attrs.get("interrupted")
        and not t.user_attrs.get("surplus")
    ]


def _shown(dist) -> str:
    """A distribution as the search-space grammar writes it."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return f"choice({', '.join(map(str, dist.choices))})"
    shown = f"interval({dist.low}, {dist.high})"
    if type(dist).__name__ == "IntDistribution":
        shown = f"int({shown})"
    return f"tag(log, {shown})" if dist.log else shown
