"""Experiment trackers beside TensorBoard: MLflow and W&B runs read back with their own
clients or files, their absence and their failures as one line or a warning."""

import importlib.util
import json
import struct
from pathlib import Path

import pytest

from tests.conftest import FAST, one_line, run_entry

LOGGERS = "logger=[tensorboard,csv,mlflow]"


def _train(tmp_path: Path, *args: str) -> tuple[int, str]:
    code, _, stderr = run_entry("rnnlab-train", *FAST, f"paths.root_dir={tmp_path}", *args)
    return code, stderr


@pytest.mark.slow  # MLflow's import and its SQLite schema: about 5 s a run
def test_an_mlflow_run_and_a_sweep_read_back_with_mlflows_client(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    code, stderr = _train(tmp_path, LOGGERS, f"hydra.run.dir={tmp_path / 'runs' / 'one'}")
    assert code == 0, stderr[-3000:]
    assert (tmp_path / "runs" / "one" / "tensorboard").is_dir()  # beside the others
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sine")  # the task names the experiment
    (run,) = client.search_runs([experiment.experiment_id])
    metrics = json.loads((tmp_path / "runs" / "one" / "metrics.json").read_text())
    assert run.info.run_name == "runs/one" and run.data.tags["status"] == "ok"
    assert run.data.params["model/hidden_size"] == "64" and run.data.params["seed"] == "42"
    assert run.data.metrics["final/test/mse"] == pytest.approx(metrics["test/mse"])
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "env.json", ".hydra"} <= artifacts

    code, _, stderr = run_entry(
        "rnnlab-train", "-m", *FAST, f"paths.root_dir={tmp_path}", "logger=mlflow", "seed=1,2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )  # fmt: skip
    assert code == 0, stderr[-3000:]
    runs = client.search_runs([experiment.experiment_id], "tags.`override.seed` != ''")
    assert sorted(run.data.tags["override.seed"] for run in runs) == ["1", "2"]
    assert sorted(run.info.run_name for run in runs) == ["sweep/0", "sweep/1"]


def _wandb_records(run_dir: Path):
    """The records of an offline W&B run, from its transaction log: a 7-byte file header,
    then 32 KiB blocks of chunks, each with a 7-byte header (checksum, length, type: 1
    whole, 2 first, 3 middle, 4 last) around a protobuf Record."""
    from wandb.proto import wandb_internal_pb2

    (path,) = run_dir.glob("run-*.wandb")
    data, position, pending = path.read_bytes(), 7, b""
    while position + 7 <= len(data):
        if 32768 - position % 32768 < 7:  # a block's tail too short for a header is padding
            position += 32768 - position % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


@pytest.mark.slow  # W&B starts a service process: about 5 s
def test_a_wandb_run_is_offline_without_a_key_and_reads_back_from_its_files(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    code, stderr = _train(tmp_path, "logger=[csv,wandb]", f"hydra.run.dir={tmp_path / 'runs' / 'one'}")
    assert code == 0, stderr[-3000:]
    (offline,) = (tmp_path / "wandb").glob("offline-run-*")
    names, config, summary = set(), {}, {}
    for record in _wandb_records(offline):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            names.add((record.run.display_name, record.run.project))
        elif kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "summary":
            summary.update({item.key: json.loads(item.value_json) for item in record.summary.update})
    metrics = json.loads((tmp_path / "runs" / "one" / "metrics.json").read_text())
    log = (tmp_path / "runs" / "one" / "train.log").read_text()
    assert ("runs/one", "rnnlab-sine") in names, log[-3000:]
    assert config["model/hidden_size"] == 64 and config["override.logger"] == "[csv,wandb]"
    assert summary["final/test/mse"] == pytest.approx(metrics["test/mse"]) and summary["status"] == "ok"
    assert (offline / "files" / "metrics.json").exists()


def test_a_tracker_not_installed_is_one_line_with_the_install_command(tmp_path, monkeypatch):
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else found(name, *a)
    )
    code, stderr = _train(tmp_path, LOGGERS, f"hydra.run.dir={tmp_path / 'run'}")
    assert code == 2
    assert one_line(stderr) == (
        "rnnlab-train: error: logger.mlflow must be a logger whose package is installed: "
        "pip install 'rnnlab[mlflow]': mlflow is not installed"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("uri", "reason"),
    [("http://127.0.0.1:9", "Connection refused"), ("foo://bar", "unsupported URI 'foo://bar'")],
)
def test_an_unreachable_tracking_server_stops_the_run_before_training(tmp_path, uri, reason):
    pytest.importorskip("mlflow")
    run = tmp_path / "run"
    code, stderr = _train(tmp_path, LOGGERS, f"logger.mlflow.tracking_uri={uri}", f"hydra.run.dir={run}")
    assert code == 2
    line = one_line(stderr)
    assert line.startswith(
        "rnnlab-train: error: logger.mlflow.tracking_uri must be a tracking URI MLflow can reach"
    )
    assert reason in line
    assert not (run / "checkpoints").exists() and not (run / "env.json").exists()


@pytest.mark.slow
def test_a_tracker_that_fails_mid_run_costs_its_record_not_the_run(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from lightning.pytorch.loggers import MLFlowLogger

    calls, log_metrics = [], MLFlowLogger.log_metrics

    def failing(self, metrics, step=None):
        calls.append(step)
        if len(calls) == 3:
            raise ConnectionError("the tracking server went away")
        return log_metrics(self, metrics, step)

    monkeypatch.setattr(MLFlowLogger, "log_metrics", failing)
    run = tmp_path / "run"
    code, stderr = _train(tmp_path, LOGGERS, "trainer.max_epochs=2", f"hydra.run.dir={run}")
    assert code == 0, stderr[-3000:]
    assert (
        "MLFlowLogger failed in log_metrics (the tracking server went away)"
        in (run / "train.log").read_text()
    )
    assert len(calls) == 3  # nothing more reached it
    assert json.loads((run / "metrics.json").read_text())["status"] == "ok"
    assert (run / "checkpoints" / "last.ckpt").is_file()
