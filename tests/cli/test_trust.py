"""Trust: a checkpoint or config from someone else runs no code, no run is overwritten, an
interrupted run resumes exactly, and a suspect result says so."""

import json
import os
import shutil
import signal
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from rnnlab import registry
from rnnlab.run import targets
from rnnlab.run.rundir import RUN_FILES, clear_run
from tests.conftest import CONFIG_DIR, FAST, TEXT, one_line, run_entry


# --- crafted checkpoints and configs: nothing runs ----------------------------------------------
def _payloads(victim: Path, secret: Path, copy: Path) -> dict:
    opened = {"_target_": "builtins.open", "_args_": [str(victim), "w"]}
    return {
        "open": ("model", opened),
        "copyfile": ("data", {"_target_": "shutil.copyfile", "src": str(secret), "dst": str(copy)}),
        "os.system": ("optimizer", {"_target_": "os.system", "_args_": [f"touch {copy}"]}),
        "importlib": ("scheduler", {"_target_": "importlib.import_module", "_args_": ["this"]}),
        "nested": ("data", {"deep": {"deeper": [opened]}}),
        "partial": (
            "optimizer",
            {"_target_": "builtins.open", "_partial_": True, "file": str(victim), "mode": "w"},
        ),
        "callback": (
            "callbacks",
            {"evil": {"_target_": "builtins.exec", "_args_": [f"open('{victim}', 'w')"]}},
        ),
        "root key": ("probe", opened),
    }


def _craft(config: dict, group: str, payload: dict) -> dict:
    config = json.loads(json.dumps(config))
    if group in ("data", "callbacks") and "_target_" not in payload:
        config[group].update(payload)  # nested deep inside a real group
    else:
        config[group] = payload
    return config


# rnnlab-predict and rnnlab-export read checkpoints through the same load_checkpoint as
# rnnlab-eval: two payloads each show they take that door
ROUTES = [
    *(
        (route, payload)
        for route in ("eval", "sample", "train ckpt_path", "resume")
        for payload in _payloads(Path(), Path(), Path())
    ),
    *((route, payload) for route in ("predict", "export") for payload in ("open", "nested")),
]


@pytest.mark.parametrize(("route", "payload"), ROUTES)
def test_a_crafted_checkpoint_or_config_runs_no_code(text_run, tmp_path, route, payload):
    victim, secret, copy = tmp_path / "victim.txt", tmp_path / "secret.txt", tmp_path / "copy.txt"
    victim.write_text("precious")
    secret.write_text("secret")
    group, bad = _payloads(victim, secret, copy)[payload]
    checkpoint = torch.load(text_run / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["rnnlab"]["config"] = _craft(checkpoint["rnnlab"]["config"], group, bad)
    crafted = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, crafted)
    out = tmp_path / "out"
    if route == "eval":
        args = ["rnnlab-eval", f"ckpt_path={crafted}", f"hydra.run.dir={out}"]
    elif route == "sample":
        args = ["rnnlab-sample", f"ckpt_path={crafted}", "length=5"]
    elif route in ("predict", "export"):
        args = [f"rnnlab-{route}", f"ckpt_path={crafted}", f"hydra.run.dir={out}"]
        args += ["steps=4"] if route == "predict" else []
    elif route == "train ckpt_path":
        args = ["rnnlab-train", *TEXT, f"ckpt_path={crafted}", f"hydra.run.dir={out}"]
    else:  # a colleague's run dir: its config and its last checkpoint both crafted
        shutil.copytree(text_run, tmp_path / "theirs")
        saved = tmp_path / "theirs" / ".hydra" / "config.yaml"
        config = _craft(yaml.safe_load(saved.read_text()), group, bad)
        saved.write_text(yaml.safe_dump(config))
        shutil.copy(crafted, tmp_path / "theirs" / "checkpoints" / "last.ckpt")
        args = ["rnnlab-train", f"resume={tmp_path / 'theirs'}", f"hydra.run.dir={out}"]
    code, stdout, stderr = run_entry(*args)
    assert code == 2
    line = one_line(stderr)
    assert "names only classes rnnlab builds" in line and "rnnlab builds only classes it knows" in line
    assert victim.read_text() == "precious" and not copy.exists()
    assert "Beautiful is better than ugly" not in stdout  # `import this` never ran
    assert not (out / "checkpoints").exists()


def test_a_pickled_object_in_a_checkpoint_is_refused_unrun(tmp_path):
    victim = tmp_path / "victim.txt"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {victim}",))

    crafted = tmp_path / "evil.ckpt"
    torch.save({"rnnlab": Evil()}, crafted)
    code, _, stderr = run_entry("rnnlab-eval", f"ckpt_path={crafted}", f"hydra.run.dir={tmp_path / 'e'}")
    assert code == 2
    assert "ckpt_path must be a readable checkpoint" in one_line(stderr)
    assert not victim.exists()


def test_the_registry_names_every_class_the_shipped_configs_build():
    """Each _target_ under conf/ is registered for its group, so no shipped option is refused."""
    conf = CONFIG_DIR
    for path in conf.rglob("*.yaml"):
        group = path.relative_to(conf).parts[0]
        if group in ("hydra", "experiment", "debug", "hparams_search"):  # Hydra's, or global packages
            group = "trainer" if group == "debug" else None
        if group is None:
            continue
        for where, target in targets._targets(yaml.safe_load(path.read_text()), group):
            assert target in registry.registered(group), (path, where, target)


# --- nothing already written is lost ----------------------------------------------------------------
def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_a_dir_holding_a_run_is_refused_and_left_as_it_was(text_run):
    before = _snapshot(text_run)
    code, _, stderr = run_entry("rnnlab-train", *TEXT, f"hydra.run.dir={text_run}")
    assert code == 2
    assert one_line(stderr) == (
        f"rnnlab-train: error: hydra.run.dir must be a directory that holds no run (got '{text_run}'): it "
        "holds a finished or stopped run; choose a new dir, continue it with resume=<dir> (in a new dir), "
        "or add overwrite=true to delete its files first"
    )
    assert _snapshot(text_run) == before
    code, _, stderr = run_entry(
        "rnnlab-eval", f"ckpt_path={text_run / 'checkpoints' / 'last.ckpt'}", f"hydra.run.dir={text_run}"
    )
    assert code == 2 and "hydra.run.dir must be a directory that holds no run" in one_line(stderr)
    assert _snapshot(text_run) == before


@pytest.mark.slow
def test_overwrite_true_replaces_the_old_run_whole(tmp_path):
    run = tmp_path / "run"
    assert run_entry("rnnlab-train", *FAST, f"hydra.run.dir={run}")[0] == 0
    (run / "notes.txt").write_text("mine")  # not rnnlab's: kept
    (run / "mine.log").write_text("mine")
    old_events = {p.name for p in (run / "tensorboard").glob("events.*")}
    code, _, stderr = run_entry("rnnlab-train", *FAST, "seed=3", "overwrite=true", f"hydra.run.dir={run}")
    assert code == 0, stderr[-3000:]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch000.ckpt", "last.ckpt"]
    assert not old_events & {p.name for p in (run / "tensorboard").glob("events.*")}
    assert "seed: 3" in (run / ".hydra" / "config.yaml").read_text()
    assert (run / "train.log").read_text().count("Seed set to") == 1
    assert (run / "notes.txt").read_text() == (run / "mine.log").read_text() == "mine"
    assert (
        run_entry(
            "rnnlab-train", f"resume={run}", "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'on'}"
        )[0]
        == 0
    )


def test_run_files_name_everything_a_run_writes(text_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(text_run, run)
    clear_run(run)
    assert list(run.iterdir()) == [], f"not in RUN_FILES {RUN_FILES}"


@pytest.mark.slow
def test_an_old_sweep_dir_is_refused_and_a_sweep_with_no_success_exits_1(tmp_path):
    sweep = tmp_path / "sweep"
    code, _, stderr = run_entry("rnnlab-train", "-m", *FAST, "seed=0,1", f"hydra.sweep.dir={sweep}")
    assert code == 0, stderr[-3000:]
    before = _snapshot(sweep)
    code, _, stderr = run_entry("rnnlab-train", "-m", *FAST, "seed=2", f"hydra.sweep.dir={sweep}")
    assert code == 2
    assert one_line(stderr).startswith(
        f"rnnlab-train: error: hydra.sweep.dir must be a directory that holds no sweep (got '{sweep}'): "
        "it holds 2 job dirs of an earlier sweep"
    )
    assert _snapshot(sweep) == before
    code, _, stderr = run_entry(
        "rnnlab-train", "-m", *FAST, "model.hidden_size=0,-1", f"hydra.sweep.dir={tmp_path / 'bad'}"
    )
    assert code == 1
    assert one_line(stderr) == (
        f"rnnlab-train: error: no job of the sweep finished (2 failed); each job's metrics.json under "
        f"{tmp_path / 'bad'} says why"
    )


def test_a_dir_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    code, _, stderr = run_entry("rnnlab-train", *FAST, f"hydra.run.dir={tmp_path / 'file' / 'run'}")
    assert code == 2
    assert one_line(stderr).startswith(
        f"rnnlab-train: error: hydra.run.dir must be a directory rnnlab can create and write to "
        f"(got '{tmp_path / 'file' / 'run'}'): "
    )


# --- an interrupt at any step resumes exactly ---------------------------------------------------
class SignalAt(L.Callback):
    """Sends this process SIGTERM at the end of one training step, as a user's kill would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


MID_EPOCH = {
    "sine": ["data.length=1200", "model.num_layers=2", "model.dropout=0.2", "model.hidden_size=16"],
    "stateful text": [
        "data=text",
        "data.stateful=true",
        "data.window=16",
        "data.batch_size=8",
        "model.dropout=0.2",
    ],
}
# the model families' states: LRU's complex, S6's a tuple per layer, the transformer's none
MID_EPOCH["stateful text, lru"] = [*MID_EPOCH["stateful text"], "model=lru"]
MID_EPOCH["stateful text, s6"] = [*MID_EPOCH["stateful text"], "model=s6"]
MID_EPOCH["sine, transformer"] = [*MID_EPOCH["sine"], "model=transformer"]
SLOW_CASES = ("sine", "stateful text, lru", "stateful text, s6", "sine, transformer")


@pytest.mark.parametrize(
    "task", [pytest.param(task, marks=pytest.mark.slow) if task in SLOW_CASES else task for task in MID_EPOCH]
)
def test_an_interrupt_mid_epoch_resumes_to_the_same_result(tmp_path, monkeypatch, task):
    common = [
        *MID_EPOCH[task],
        "model.hidden_size=16",
        "trainer.max_epochs=3",
        "trainer.limit_train_batches=7",
        "trainer.limit_val_batches=3",
        "trainer.limit_test_batches=3",
        "callbacks.rich_progress_bar=null",
    ]
    whole, part, rest = (tmp_path / name for name in ("whole", "part", "rest"))
    assert run_entry("rnnlab-train", *common, f"hydra.run.dir={whole}")[0] == 0
    registered = registry.registered
    extra = {f"{__name__}.SignalAt": "signal_at"}
    monkeypatch.setattr(registry, "registered", lambda g: registered(g) | (extra if g == "callbacks" else {}))
    code, _, stderr = run_entry(
        "rnnlab-train",
        *common,
        f"+callbacks.kill._target_={__name__}.SignalAt",
        "+callbacks.kill.step=10",
        f"hydra.run.dir={part}",
    )
    assert code == 128 + signal.SIGTERM, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == f"  rnnlab-train resume={part}"
    saved = torch.load(part / "checkpoints" / "last.ckpt", weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (1, 10)  # step 3 of 7 in the second epoch
    assert json.loads((part / "metrics.json").read_text())["status"] == "interrupted"
    code, _, stderr = run_entry("rnnlab-train", f"resume={part}", f"hydra.run.dir={rest}")
    assert code == 0, stderr[-3000:]
    expected = json.loads((whole / "metrics.json").read_text())
    assert json.loads((rest / "metrics.json").read_text()) == expected
    last = torch.load(rest / "checkpoints" / "last.ckpt", weights_only=True)
    assert (
        last["global_step"]
        == torch.load(whole / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    )


# --- suspect results say so ---------------------------------------------------------------------
def test_a_model_worse_than_the_naive_forecast_is_flagged(tmp_path):
    run = tmp_path / "run"
    code, stdout, stderr = run_entry(
        "rnnlab-train", *FAST, "model=rnn", "optimizer.lr=100", "trainer.max_epochs=2", f"hydra.run.dir={run}"
    )
    assert code == 0, stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    (warning,) = metrics["warnings"]
    ratio = metrics["test/mse"] / metrics["test/naive_mse"]
    assert ratio > 1
    assert warning == (
        f"test/mse {metrics['test/mse']:.4g} is {ratio:.3g}x the last-value naive forecast's "
        f"{metrics['test/naive_mse']:.4g}: the model forecasts worse than repeating the last value"
    )
    assert f"warning: {warning}" in stdout  # under the summary table


def test_suspect_results_cover_language_models_and_runs_that_never_stepped():
    from rnnlab.data.spec import TaskSpec
    from rnnlab.run.results import suspect_results

    language = TaskSpec("language", 4, 4, vocab=("<unk>", "a", "b", "c"))
    assert suspect_results({"val/loss": 1.2}, language, steps=10) == []  # below ln 4 = 1.386
    (reason,) = suspect_results({"val/loss": 1.5}, language, steps=10)
    assert reason.startswith("val/loss 1.5 is above ln(vocabulary size) = 1.386")
    regression = TaskSpec("regression", 1, 4)
    good = {"test/mse": 0.01, "test/naive_mse": 0.3, "val/mse": 9.0, "val/naive_mse": 0.3}
    assert suspect_results(good, regression, steps=10) == []  # the test split decides
    (untrained,) = suspect_results(good, regression, steps=0)
    assert "no optimizer step ran" in untrained


def test_a_sweep_dir_with_unreadable_job_files_still_reports(tmp_path):
    from rnnlab.report.sweep import read_sweep

    for job in ("0", "1"):
        (tmp_path / job / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / "metrics.json").write_text("{not json")
    (tmp_path / "1" / "metrics.json").write_text('{"status": "ok", "val/loss": 0.5}')
    (tmp_path / "1" / ".hydra" / "overrides.yaml").write_text("- [unclosed")
    first, second = read_sweep(tmp_path)
    assert first.metrics == {"status": "unreadable", "error": "metrics.json is not a JSON object of metrics"}
    assert second.metrics["val/loss"] == 0.5 and second.overrides == []
