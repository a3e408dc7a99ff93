"""Hydra's Optuna sweeper, made to resume (``hydra/sweeper=optuna_resumable``).

Hydra loads sweepers only from the ``hydra_plugins`` package, hence this module's home.
The search itself is hydra-optuna-sweeper's; this class adds what a long search needs:

- the study lives in ``<sweep dir>/optuna.db`` (sqlite) unless ``storage`` names another;
- ``n_trials`` is the study's total: the same command with ``hydra.sweep.dir=<that dir>``
  picks up the finished trials and runs only the rest (raise ``n_trials`` to extend it);
- trials that a killed search left running are marked failed (user attr ``interrupted``)
  and run again as new trials;
- job directories are numbered by trial, so a resumed search never overwrites a job;
- the sampler is seeded with ``seed + trials so far``: a resumed search does not draw the
  first trials' parameters again, and the same invocations give the same trials.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import ConfigError

log = logging.getLogger(__name__)
DIRECTIONS = {"min": "minimize", "max": "maximize", "minimize": "minimize", "maximize": "maximize"}


class ResumableOptunaSweeper(Sweeper):
    def __init__(
        self,
        sampler: DictConfig,
        direction: str,
        storage: str | None,
        study_name: str,
        n_trials: int,
        n_jobs: int = 1,
        max_failure_rate: float = 1.0,
        params: DictConfig | None = None,
    ) -> None:
        if str(direction) not in DIRECTIONS:
            raise ConfigError("hydra.sweeper.direction", "min or max (or minimize, maximize)", direction)
        if not isinstance(n_trials, int) or n_trials < 1:
            allowed = "an integer >= 1 (the trials of the study in all)"
            raise ConfigError("hydra.sweeper.n_trials", allowed, n_trials)
        self.sampler_config = sampler
        self.direction = DIRECTIONS[str(direction)]
        self.storage = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.optuna = OptunaSweeper(
            sampler=None,  # built in sweep(), once the stored trials are known
            direction=self.direction,
            storage=None,
            study_name=study_name,
            n_trials=n_trials,
            n_jobs=n_jobs,
            max_failure_rate=max_failure_rate,
            search_space=None,
            custom_search_space=None,
            params=params,
        ).sweeper

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.optuna.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.sweep_dir = Path(str(config.hydra.sweep.dir))

    def sweep(self, arguments: list[str]) -> Any:
        # imported here: Hydra imports every plugin module at startup, and optuna takes a second.
        # optuna<3 (the sweeper's pin) uses SQLAlchemy 1.4 APIs that warn on every import.
        os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
        import optuna
        from optuna.trial import TrialState

        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        storage = self.storage or f"sqlite:///{self.sweep_dir.resolve() / 'optuna.db'}"
        study = optuna.create_study(
            study_name=self.study_name, storage=storage, direction=self.direction, load_if_exists=True
        )
        for trial in study.trials:
            if trial.state == TrialState.RUNNING:  # its search was killed mid-trial
                optuna.trial.Trial(study, trial._trial_id).set_user_attr("interrupted", True)
                study.tell(trial.number, state=TrialState.FAIL)
        trials = study.trials
        finished = [t for t in trials if t.state.is_finished() and not t.user_attrs.get("interrupted")]
        remaining = max(0, self.n_trials - len(finished))
        if trials:
            log.info(
                "Resuming study %s from %s: %d finished trials, %d to run",
                self.study_name,
                storage,
                len(finished),
                remaining,
            )
        sampler = OmegaConf.to_container(self.sampler_config, resolve=True)
        if sampler.get("seed") is not None:
            sampler["seed"] = int(sampler["seed"]) + len(trials)
        self.optuna.sampler = instantiate(sampler)
        self.optuna.storage = storage
        self.optuna.n_trials = remaining
        self.optuna.job_idx = len(trials)  # job dir = trial number
        try:
            return self.optuna.sweep(arguments)
        except ValueError as error:
            if "distribution" not in str(error):
                raise
            raise ConfigError(
                "hydra.sweeper.params",
                "the search space the stored study began with (a new space needs a new hydra.sweep.dir)",
                dict(self.optuna.params or {}),
                detail=str(error),
            ) from None
