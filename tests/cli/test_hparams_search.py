"""Optuna searches (hparams_search=...): stored in the sweep dir, resumable, never ended by a
failed trial."""

import json
import math
import os

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")  # optuna<3 on SQLAlchemy 1.4

import optuna
import pytest
import yaml
from omegaconf import OmegaConf

from hydra_plugins.rnnlab_sweepers.optuna import ResumableOptunaSweeper
from rnnlab.cli.report import read_sweep
from rnnlab.errors import ConfigError
from tests.conftest import FAST, run_main

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _search(sweep_dir, *overrides: str):
    result = run_main(
        "rnnlab-train",
        "-m",
        "hparams_search=sine_optuna",
        *FAST,
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        f"hydra.sweep.dir={sweep_dir}",
        *overrides,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _study(sweep_dir) -> optuna.Study:
    return optuna.load_study(study_name="sine", storage=f"sqlite:///{sweep_dir / 'optuna.db'}")


@pytest.mark.slow
def test_search_runs_three_trials_then_resumes_to_five(tmp_path):
    _search(tmp_path, "hydra.sweeper.n_trials=3")
    study = _study(tmp_path)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    first = {name: (tmp_path / name / "metrics.json").read_text() for name in ("0", "1", "2")}
    for trial in study.trials:  # the value told to optuna is the job's optimized metric
        metrics = json.loads(first[str(trial.number)])
        assert trial.value == pytest.approx(metrics["val/loss_best"])

    result = _search(tmp_path, "hydra.sweeper.n_trials=5")
    assert "3 finished trials, 2 to run" in result.stdout + result.stderr
    study = _study(tmp_path)
    assert [t.number for t in study.trials if t.state.is_finished()] == [0, 1, 2, 3, 4]
    assert [job.name for job in read_sweep(tmp_path)] == ["0", "1", "2", "3", "4"]
    for name, text in first.items():  # the finished trials' jobs were not run again
        assert (tmp_path / name / "metrics.json").read_text() == text
    params = [t.params for t in study.trials]
    assert params[3] not in params[:3] and params[4] not in params[:3]  # not the same draws again
    for trial in study.trials[3:]:  # trial params reached the job's config
        config = yaml.safe_load((tmp_path / str(trial.number) / ".hydra" / "config.yaml").read_text())
        assert config["model"]["hidden_size"] == trial.params["model.hidden_size"]
        assert config["optimizer"]["lr"] == pytest.approx(trial.params["optimizer.lr"])
    best = OmegaConf.load(tmp_path / "optimization_results.yaml")
    assert best.best_value == pytest.approx(min(t.value for t in study.trials))


def test_failed_trials_do_not_end_the_study(tmp_path):
    _search(tmp_path, "hydra.sweeper.n_trials=3", "model.hidden_size=choice(0, 8)")
    study = _study(tmp_path)
    assert len(study.trials) == 3
    assert {t.params["model.hidden_size"] for t in study.trials} == {0, 8}
    statuses = {job.name: job.status for job in read_sweep(tmp_path)}
    for trial in study.trials:
        failed = trial.params["model.hidden_size"] == 0
        assert statuses[str(trial.number)] == ("failed" if failed else "ok")
        assert math.isinf(trial.value) == failed  # the worst value for the sampler


def test_trials_of_a_killed_search_are_marked_and_run_anew(tmp_path):
    study = optuna.create_study(study_name="sine", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    study.ask()  # a trial that never finished: its search was killed
    _search(tmp_path, "hydra.sweeper.n_trials=1")
    trials = _study(tmp_path).trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[0].user_attrs == {"interrupted": True}
    assert [job.name for job in read_sweep(tmp_path)] == ["1"]  # job dir = trial number


def test_resuming_with_another_search_space_is_refused(tmp_path):
    _search(tmp_path, "hydra.sweeper.n_trials=1")
    result = run_main(
        "rnnlab-train",
        "-m",
        "hparams_search=sine_optuna",
        *FAST,
        "hydra.sweeper.n_trials=2",
        "model.hidden_size=int(interval(8, 64))",  # was choice(16, 32, 64, 128)
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "rnnlab-train: error: hydra.sweeper.params must be the search space the stored study began with"
    )
    assert [job.name for job in read_sweep(tmp_path)] == ["0"]  # nothing new ran, nothing lost


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("direction", "up", "hydra.sweeper.direction must be min or max"),
        ("n_trials", 0, "hydra.sweeper.n_trials must be an integer >= 1"),
    ],
)
def test_bad_search_settings(setting, value, message):
    settings = {
        "sampler": OmegaConf.create({"_target_": "optuna.samplers.RandomSampler"}),
        "direction": "min",
        "storage": None,
        "study_name": "s",
        "n_trials": 3,
        setting: value,
    }
    with pytest.raises(ConfigError, match=f"^{message}"):
        ResumableOptunaSweeper(**settings)
