"""rnnlab-train end to end, as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from rnnlab.cli.train import train
from rnnlab.errors import ConfigError
from tests.conftest import FAST, run_cli


def test_a_run_dir_holds_config_logs_checkpoints_and_metrics(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("rnnlab-train", *FAST, "model=gru", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((run_dir / "checkpoints").glob("epoch*.ckpt"))
    assert (run_dir / "csv" / "metrics.csv").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert "model=gru" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert "Seed set to 42" in (run_dir / "train.log").read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("val/loss", "val/loss_best", "test/mse", "test/mae", "test/naive_mse", "test_rollout/mse"):
        assert isinstance(metrics[key], float), key
    assert "test/mse" in result.stdout and "snaive" in result.stdout  # the closing summary table

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert {"val/forecast", "test/forecast"} <= set(events.Tags()["images"])
    assert {"train/loss_step", "val/loss", "val/naive_mse", "test/mse"} <= set(events.Tags()["scalars"])
    hparams = events.PluginTagToContent("hparams")
    experiment = HParamsPluginData.FromString(hparams["_hparams_/experiment"]).experiment
    assert experiment.metric_infos[0].name.tag == "val/loss_best"  # the optimized metric first
    session = HParamsPluginData.FromString(hparams["_hparams_/session_start_info"]).session_start_info
    assert session.hparams["model/cell"].string_value == "gru"


def test_lightning_fast_dev_run_still_writes_metrics(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("rnnlab-train", "trainer.fast_dev_run=true", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test/mse" in json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.parametrize(
    ("group", "option", "known"), [("model", "transformer", "gru"), ("data", "mnist", "sine")]
)
def test_unknown_option_name_lists_the_options(tmp_path, group, option, known):
    result = run_cli("rnnlab-train", f"{group}={option}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode != 0
    assert f"Could not find '{group}/{option}'" in result.stderr
    assert f"Available options in '{group}':" in result.stderr and f"\t{known}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_bad_value_is_one_line_on_stderr_and_nothing_trains(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("rnnlab-train", "model.hidden_size=0", f"hydra.run.dir={run_dir}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rnnlab-train: error: model.hidden_size must be an integer >= 1 (got 0)"
    ]
    assert not (run_dir / "checkpoints").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=rnn", "model.nonlinearity=sigmoid"], "model.nonlinearity must be one of tanh, relu"),
        (["model.hidden_size=-3"], "model.hidden_size must be an integer >= 1 (got -3)"),
        (["data.window=0"], "data.window must be an integer >= 1 (got 0)"),
        (["data.horizon=0"], "data.horizon must be an integer >= 1 (got 0)"),
        (["data.window=590"], "data.window must be <= 568 so that window + rollout_steps (32) fits"),
        (
            ["data.length=300"],
            "data.window must be <= 41 so that window + horizon (4) fits the val split of 45",
        ),
        (["data=series", "data.column=close"], "data.path must be an existing CSV file (got '"),
    ],
)
def test_bad_settings_stop_before_training(compose_train, tmp_path, overrides, message):
    if overrides[0] == "data=series":
        overrides = [*overrides, f"data.path={tmp_path / 'missing.csv'}"]
    with pytest.raises(ConfigError) as error:
        train(compose_train(*overrides))
    assert message in str(error.value)
    assert not (tmp_path / "checkpoints").exists()


def test_series_run_on_a_csv_column(compose_train, write_csv, tmp_path):
    path = write_csv({"date": [f"d{i}" for i in range(1200)], "close": [100 + i % 24 for i in range(1200)]})
    cfg = compose_train("data=series", f"data.path={path}", "data.column=close", "data.season=24", *FAST)
    metrics = train(cfg)
    assert "test/snaive_mse" in metrics
    assert json.loads((tmp_path / "metrics.json").read_text())["test/mse"] == metrics["test/mse"]


def test_help_and_cfg_do_not_import_torch():
    code = (
        "import sys\n"
        "from rnnlab.cli.train import main\n"
        "for args in (['--help'], ['--cfg', 'job']):\n"
        "    sys.argv = ['rnnlab-train', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('torch' in sys.modules, 'lightning' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False False"
    assert "== Config groups" in result.stdout and "model: gru, lstm, rnn" in result.stdout


def test_run_dirs_are_unique_within_one_second(tmp_path):
    """Three runs started together get three dirs (they stop early on a bad value, after
    Hydra has made their dirs)."""
    script = Path(sys.executable).parent / "rnnlab-train"
    env = {**os.environ, "RNNLAB_OUTPUTS": str(tmp_path)}
    starts = [
        subprocess.Popen([str(script), "model.hidden_size=0"], env=env, stderr=subprocess.DEVNULL)
        for _ in range(3)
    ]
    for process in starts:
        assert process.wait(timeout=120) == 2
    run_dirs = list((tmp_path / "runs").iterdir())
    assert len(run_dirs) == 3
    assert all((run_dir / ".hydra" / "config.yaml").is_file() for run_dir in run_dirs)


@pytest.mark.slow
def test_default_run_beats_the_naive_forecast_tenfold(tmp_path):
    """What `make train` runs: the default experiment, start to finish."""
    result = run_cli("rnnlab-train", f"hydra.run.dir={tmp_path}", "callbacks.rich_progress_bar=null")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test/mse"] * 10 <= metrics["test/naive_mse"]
    assert metrics["test_rollout/mse"] * 10 <= metrics["test_rollout/naive_mse"]
