"""Optuna searches (hparams_search=..., hydra/sweeper=optuna): stored in the sweep dir or a
shared storage, resumable, shared by several sweepers, pruned, of one or several objectives."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hydra_plugins.rnnlab_sweepers.optuna import OptunaSweeper, TrialSeeded
from rnnlab import search
from rnnlab.cli.report import main as report_main
from rnnlab.errors import ConfigError
from rnnlab.report.sweep import read_sweep
from tests.conftest import FAST, run_main

optuna.logging.set_verbosity(optuna.logging.WARNING)
QUICK = [*FAST, "trainer.limit_val_batches=1", "trainer.limit_test_batches=1"]


def _search(sweep_dir, *overrides: str):
    result = run_main(
        "rnnlab-train", "-m", "hparams_search=sine_optuna", *QUICK, f"hydra.sweep.dir={sweep_dir}", *overrides
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _study(sweep_dir) -> optuna.Study:
    return optuna.load_study(study_name="sine", storage=f"sqlite:///{sweep_dir / 'optuna.db'}")


@pytest.mark.slow
def test_search_runs_three_trials_then_resumes_to_five(tmp_path):
    _search(tmp_path, "hydra.sweeper.n_trials=3")
    study = _study(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    first = {name: (tmp_path / name / "metrics.json").read_text() for name in ("0", "1", "2")}
    for trial in study.trials:  # the value told to optuna is the job's optimized metric
        assert trial.value == pytest.approx(json.loads(first[str(trial.number)])["val/loss_best"])

    result = _search(tmp_path, "hydra.sweeper.n_trials=5")
    assert "3 trials so far, 5 in all" in result.stdout + result.stderr
    study = _study(tmp_path)
    assert [t.number for t in study.trials if t.state.is_finished()] == [0, 1, 2, 3, 4]
    assert [job.name for job in read_sweep(tmp_path)] == ["0", "1", "2", "3", "4"]
    for name, text in first.items():  # the finished trials' jobs were not run again
        assert (tmp_path / name / "metrics.json").read_text() == text
    params = [t.params for t in study.trials]
    assert params[3] not in params[:3] and params[4] not in params[:3]  # not the same draws again
    for trial in study.trials[3:]:  # trial params reached the job's config
        config = OmegaConf.load(tmp_path / str(trial.number) / ".hydra" / "config.yaml")
        assert config.model.hidden_size == trial.params["model.hidden_size"]
        assert config.optimizer.lr == pytest.approx(trial.params["optimizer.lr"])
        assert config.trial.number == trial.number
    best = OmegaConf.load(tmp_path / "optimization_results.yaml")
    assert best.best_value == pytest.approx(min(t.value for t in study.trials))


@pytest.mark.slow
def test_failed_trials_are_recorded_and_do_not_end_the_study(tmp_path):
    _search(tmp_path, "hydra.sweeper.n_trials=3", "model.hidden_size=choice(0, 8)")
    study = _study(tmp_path)
    assert {t.params["model.hidden_size"] for t in study.trials} == {0, 8}
    statuses = {job.name: job.status for job in read_sweep(tmp_path)}
    for trial in study.trials:
        failed = trial.params["model.hidden_size"] == 0
        assert statuses[str(trial.number)] == ("failed" if failed else "ok")
        assert trial.state == (TrialState.FAIL if failed else TrialState.COMPLETE)
        if failed:  # the job's one line, kept with the trial
            assert trial.user_attrs["error"].startswith("model.hidden_size must be")


@pytest.mark.slow
def test_a_silent_trial_of_a_killed_sweeper_is_failed_and_run_anew(tmp_path):
    study = optuna.create_study(study_name="sine", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    alive, dead = study.ask(), study.ask()  # two trials left running by a sweeper
    dead.set_user_attr("heartbeat", time.time() - 3600)  # the killed one has been silent for an hour
    alive.set_user_attr("heartbeat", time.time() + 3600)  # the other still beats
    _search(tmp_path, "hydra.sweeper.n_trials=3")
    trials = _study(tmp_path).trials
    assert [t.state.name for t in trials] == ["RUNNING", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials[1].user_attrs["interrupted"] is True
    # the running trial counts toward the 3; the silent one does not and is replaced
    assert [job.name for job in read_sweep(tmp_path)] == ["2", "3"]  # job dir = trial number


@pytest.mark.slow
def test_resuming_with_another_search_space_is_refused(tmp_path):
    _search(tmp_path, "hydra.sweeper.n_trials=1")
    result = run_main(
        "rnnlab-train",
        "-m",
        "hparams_search=sine_optuna",
        *QUICK,
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


@pytest.mark.slow
def test_a_trial_behind_the_median_is_pruned_and_keeps_its_checkpoint(tmp_path):
    space = search.search_space({"optimizer.lr": "tag(log, interval(1e-4, 3e-2))"})
    study = optuna.create_study(study_name="sine", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    study.add_trial(  # an earlier trial that was perfect at every epoch: any new one is behind
        optuna.trial.create_trial(
            params={"optimizer.lr": 1e-3},
            distributions=space,
            value=0.0,
            intermediate_values=dict.fromkeys(range(10), 0.0),
        )
    )
    _search(
        tmp_path,
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.pruner=median",
        "hydra.sweeper.startup_trials=1",
        "hydra.sweeper.warmup_epochs=1",
        "~hydra.sweeper.params",
        "optimizer.lr=tag(log, interval(1e-4, 3e-2))",
        "trainer.max_epochs=4",
    )
    trial = _study(tmp_path).trials[1]
    assert trial.state == TrialState.PRUNED
    assert sorted(trial.intermediate_values) == [0, 1]  # reported every epoch, never pruned in warm-up
    metrics = json.loads((tmp_path / "1" / "metrics.json").read_text())
    assert metrics["status"] == "pruned" and metrics["pruned_at_epoch"] == 1
    assert "test/loss" not in metrics  # a pruned trial is not tested
    assert (tmp_path / "1" / "checkpoints" / "last.ckpt").is_file()
    assert {job.name: job.status for job in read_sweep(tmp_path)} == {"1": "pruned"}


@pytest.mark.slow
def test_two_sweepers_on_one_journal_share_its_trials(tmp_path):
    """Two `rnnlab-train -m` commands started at once on one study (as a SLURM array would):
    every trial runs once, in its own job dir, and the study ends at n_trials."""
    journal = tmp_path / "study.journal"
    command = [
        "rnnlab-train",
        "-m",
        "hparams_search=sine_optuna",
        *QUICK,
        "hydra.sweeper.sampler=random",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.n_jobs=2",  # batches of two: trial numbers interleave between the sweepers
        f"hydra.sweeper.storage={journal}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "model=lstm",
        "model.num_layers=1",
    ]
    script = os.path.join(os.path.dirname(sys.executable), "rnnlab-train")
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    workers = [
        subprocess.Popen(
            [script, *command[1:]], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs[0][-2000:] + outputs[1][-2000:]
    study = optuna.load_study(study_name="sine", storage=search.open_storage(str(journal)))
    ran = [t for t in study.trials if not t.user_attrs.get("surplus")]
    assert sorted(t.number for t in ran) == list(range(6)) and all(
        t.state == TrialState.COMPLETE for t in ran
    )
    assert len({t.user_attrs["worker"] for t in ran}) == 2  # both sweepers ran trials
    jobs = read_sweep(tmp_path / "sweep")
    assert sorted(int(job.name) for job in jobs) == list(range(6))  # none lost, none run twice
    for trial in ran:  # each job is its own trial
        metrics = json.loads((tmp_path / "sweep" / str(trial.number) / "metrics.json").read_text())
        assert trial.value == pytest.approx(metrics["val/loss_best"])


@pytest.mark.slow
def test_a_search_of_two_objectives_keeps_its_pareto_front(tmp_path):
    _search(
        tmp_path,
        "hydra.sweeper.n_trials=3",
        "optimized_metric=[val/loss_best,model/params]",
        "optimized_mode=[min,min]",
    )
    study = _study(tmp_path)
    assert [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"]
    for trial in study.trials:
        metrics = json.loads((tmp_path / str(trial.number) / "metrics.json").read_text())
        assert trial.values == pytest.approx([metrics["val/loss_best"], metrics["model/params"]])
    front = OmegaConf.load(tmp_path / "optimization_results.yaml").best_trials
    assert sorted(t.trial for t in front) == sorted(t.number for t in study.best_trials)
    report_main([str(tmp_path)])  # the trials against both objectives, the front marked
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_samplers_draw_per_trial_so_that_sweepers_agree():
    space = {
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
        "width": IntDistribution(8, 64),
        "cell": CategoricalDistribution(["lstm", "gru"]),
    }
    for name in ("tpe", "random", "cmaes"):
        draws = []
        for _ in range(2):  # two sweepers with the same seed, each asking for trial 0 and 1
            study = optuna.create_study(sampler=TrialSeeded(name, 7, space, startup_trials=1))
            draws.append([study.ask(space).params for _ in range(2)])
        assert draws[0] == draws[1], name  # the same trial numbers draw the same parameters
        assert draws[0][0] != draws[0][1], name  # and different trials different ones
    grid = {"width": CategoricalDistribution([8, 16]), "cell": CategoricalDistribution(["lstm", "gru"])}
    study = optuna.create_study(sampler=TrialSeeded("grid", 0, grid, startup_trials=1))
    assert search.enqueue_grid(study, grid) == 4 and search.enqueue_grid(study, grid) == 4  # queued once
    points = []
    for _ in range(4):
        trial = study.ask(grid)
        study.tell(trial, 0.0)
        points.append((trial.params["width"], trial.params["cell"]))
    assert sorted(points) == [(8, "gru"), (8, "lstm"), (16, "gru"), (16, "lstm")]  # every point once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("choice(rnn, lstm)", CategoricalDistribution(["rnn", "lstm"])),
        ("range(1, 7, 2)", CategoricalDistribution([1, 3, 5])),
        ("interval(0.0, 0.3)", FloatDistribution(0.0, 0.3)),
        ("int(interval(8, 64))", IntDistribution(8, 64)),
        ("tag(log, interval(1e-4, 3e-2))", FloatDistribution(1e-4, 3e-2, log=True)),
        ("tag(log, int(interval(8, 64)))", IntDistribution(8, 64, log=True)),
    ],
)
def test_the_search_space_grammar(text, expected):
    assert search.distribution("x", text) == expected


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("direction", "up", "hydra.sweeper.direction must be min or max"),
        ("n_trials", 0, "hydra.sweeper.n_trials must be an integer >= 1"),
        ("sampler", "bayes", "hydra.sweeper.sampler must be one of tpe, random, grid, cmaes"),
        ("pruner", "early", "hydra.sweeper.pruner must be median, hyperband or null"),
        ("heartbeat_s", 0, "hydra.sweeper.heartbeat_s must be an integer >= 1"),
    ],
)
def test_bad_search_settings(setting, value, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        OptunaSweeper(**{setting: value})


def test_pruning_needs_one_objective():
    with pytest.raises(ConfigError, match=r"^hydra\.sweeper\.pruner must be null for a search of several"):
        OptunaSweeper(direction=OmegaConf.create(["min", "min"]), pruner="median")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["hydra.sweeper.storage=nowhere"],
            "hydra.sweeper.storage must be null (sqlite in the sweep dir), journal",
        ),
        (["hydra.sweeper.storage=nosuchdb://x"], "hydra.sweeper.storage must be a storage Optuna can open"),
        (
            ["hydra.sweeper.sampler=grid"],
            "hydra.sweeper.params.model.dropout must be choice(...) or range(...) with sampler=grid",
        ),
        (
            ["model.hidden_size=interval(64, 8)"],
            "hydra.sweeper.params.model.hidden_size must be an interval with low < high",
        ),
        (["optimized_mode=[min,max]"], "optimized_mode must be min or max (got ['min', 'max'])"),
    ],
)
def test_bad_searches_are_one_line(tmp_path, overrides, message):
    result = run_main(
        "rnnlab-train", "-m", "hparams_search=sine_optuna", *QUICK, f"hydra.sweep.dir={tmp_path}", *overrides
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"rnnlab-train: error: {message}"), line
    assert read_sweep(tmp_path) == []


def test_a_job_refuses_a_bad_trial_block(tmp_path):
    result = run_main(
        "rnnlab-train", *QUICK, "trial={study:s,storage:x,number:-1}", f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 2
    assert "trial must be null, or the block the optuna sweeper sets" in result.stderr


def test_the_dashboard_serves_a_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="sine", storage=storage)
    study.optimize(lambda trial: trial.suggest_float("x", -1, 1) ** 2, n_trials=3)
    dashboard = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "optuna-dashboard"), storage, "--port", "18087"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen("http://127.0.0.1:18087/api/studies", timeout=2) as page:
                    studies = json.loads(page.read())
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("optuna-dashboard did not answer in 20 s")
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=10)
    (shown,) = studies["study_summaries"]
    assert shown["study_name"] == "sine"


@pytest.mark.slow
def test_a_grid_search_runs_every_point_once_and_stops(tmp_path):
    _search(
        tmp_path, "hydra.sweeper.sampler=grid", "~hydra.sweeper.params", "model.hidden_size=choice(8, 16)"
    )
    study = _study(tmp_path)
    assert sorted(t.params["model.hidden_size"] for t in study.trials) == [8, 16]  # not the 20 n_trials says
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    report_main([str(tmp_path)])  # a search's report: its history and what mattered
    assert "| model.hidden_size | 1.000 |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("metrics", "failed"),
    [
        ({"status": "ok", "val/loss": 0.5}, None),
        (
            {"status": "ok", "val/loss_best": 0.5},
            "optimized_metric must be a metric the runs write; did you mean",
        ),
        (
            {"status": "ok", "val/loss": "inf"},
            "optimized_metric must be a metric the runs write (got 'val/loss')",
        ),
        ({"status": "ok", "val/loss": float("nan")}, "it wrote nan, not a finite number"),
        ({"status": "ok", "val/loss": True}, "it wrote True, not a finite number"),
    ],
)
def test_a_job_without_a_finite_objective_fails_its_trial(metrics, failed):
    result = search.outcome(OmegaConf.create({"optimized_metric": "val/loss"}), metrics)
    if failed is None:
        assert result == {"status": "ok", "values": [0.5]}
        return
    assert result["status"] == "failed" and result["values"] == [] and result["missing"] == "val/loss"
    assert failed in result["error"]


@pytest.mark.slow  # a search of one trial; outcome()'s cases are in the default run
def test_an_objective_no_job_writes_fails_the_trials_and_stops_the_search(tmp_path):
    result = run_main(
        "rnnlab-train",
        "-m",
        "hparams_search=sine_optuna",
        *QUICK,
        f"hydra.sweep.dir={tmp_path}",
        "hydra.sweeper.n_trials=4",
        "optimized_metric=val/los",
    )
    assert result.returncode == 2, result.stderr[-3000:]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("rnnlab-train")]
    assert line.startswith(
        "rnnlab-train: error: optimized_metric must be a metric the runs write; did you mean val/loss? "
        "(got 'val/los'): no trial finished with it (1 failed; the first wrote val/"
    )
    assert "val/loss_best" in line and line.endswith("); the search stopped")
    trials = _study(tmp_path).trials
    assert [t.state for t in trials] == [TrialState.FAIL]  # the search did not run 4 useless trials
    assert trials[0].user_attrs["error"].startswith("optimized_metric must be a metric the runs write")
    assert OmegaConf.load(tmp_path / "optimization_results.yaml").best is None  # no inf called best


def _other_program_db(path):
    import sqlite3

    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE invoices (id INTEGER)")
    connection.commit()
    connection.close()


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        (
            "notes.journal",
            lambda p: p.write_text("this is not a journal\n"),
            "hydra.sweeper.storage must be an Optuna journal file (one JSON operation per line) "
            "(got '{path}'): its first line is not an Optuna operation",
        ),
        pytest.param(
            "study.db",
            lambda p: p.write_text("a text file\n"),
            "hydra.sweeper.storage must be an Optuna sqlite file (got 'sqlite:///{path}'): the file is not a "
            "sqlite database",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "accounts.db",
            _other_program_db,
            "hydra.sweeper.storage must be an Optuna sqlite file (or a new one) (got 'sqlite:///{path}'): "
            "it is another program's database (tables invoices); Optuna would add its own",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_a_storage_that_is_not_what_it_claims_is_one_line_and_left_untouched(tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    before = path.read_bytes()
    storage = str(path) if name.endswith(".journal") else f"sqlite:///{path}"
    result = run_main(
        "rnnlab-train",
        "-m",
        "hparams_search=sine_optuna",
        *QUICK,
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"hydra.sweeper.storage='{storage}'",
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("rnnlab-train: error: " + message.format(path=path)), line
    assert path.read_bytes() == before
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "sweep"])
        or not (tmp_path / "sweep").exists()
    )
