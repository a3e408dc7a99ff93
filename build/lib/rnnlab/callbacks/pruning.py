"""A search job's link to its Optuna trial: after every validation it reports the monitored
metric to the trial, and it stops training when the study's pruner says the trial is behind.

The sweeper (hydra/sweeper=optuna) gives each job its trial in the ``trial`` config block; the
study is opened from its storage here, in the job's process, so pruning works the same under
the local, joblib and SLURM launchers. In DDP, rank 0 asks the pruner and every rank stops.
"""

from __future__ import annotations

import lightning as L

from rnnlab import search


class TrialPruning(L.Callback):
    def __init__(
        self,
        study: str,
        storage: str,
        number: int,
        monitor: str,
        pruner: str | None = None,
        startup_trials: int = 5,
        warmup_epochs: int = 0,
    ) -> None:
        self.study_name, self.storage, self.number, self.monitor = study, storage, number, monitor
        self.pruner = (pruner, startup_trials, warmup_epochs)
        self.reports = 0
        self.pruned_at: int | None = None  # the epoch the pruner stopped the trial in
        self.trial = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" or not trainer.is_global_zero:
            return
        import optuna
        from optuna.trial import TrialState

        storage = search.open_storage(self.storage)
        study = optuna.load_study(
            study_name=self.study_name, storage=storage, pruner=search.make_pruner(*self.pruner)
        )
        frozen = next((t for t in study.get_trials(deepcopy=False) if t.number == self.number), None)
        # Optuna keeps learning curves of single-objective trials only (the dashboard draws them)
        single = len(study.directions) == 1
        if single and frozen is not None and frozen.state == TrialState.RUNNING:  # not a finished trial again
            self.trial = optuna.trial.Trial(study, search.trial_id(storage, self.study_name, self.number))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = False
        value = trainer.callback_metrics.get(self.monitor)
        if self.trial is not None and value is not None:
            # one report per validation: the pruner compares trials at the same epoch
            self.trial.report(float(value), step=self.reports)
            prune = self.trial.should_prune()
        self.reports += 1
        if trainer.strategy.broadcast(prune, src=0):
            self.pruned_at = trainer.current_epoch
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return {"reports": self.reports}

    def load_state_dict(self, state_dict: dict) -> None:
        self.reports = state_dict.get("reports", 0)
