"""Sweeps: a failing job never ends the sweep, and rnnlab-report sums them up."""

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from rnnlab.cli.report import main as report_main
from rnnlab.report.sweep import read_sweep, summarize
from rnnlab.run.launch import available_cores
from tests.conftest import FAST, run_cli, run_main


def _fake_job(sweep: Path, name: str, overrides: list[str], metrics: dict) -> None:
    (sweep / name / ".hydra").mkdir(parents=True)
    (sweep / name / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (sweep / name / ".hydra" / "config.yaml").write_text(
        yaml.safe_dump({"optimized_metric": "val/loss_best"})
    )
    (sweep / name / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def fake_sweep(tmp_path) -> Path:
    values = {("rnn", 0): 0.5, ("rnn", 1): 0.7, ("gru", 0): 0.2, ("gru", 1): 0.4}
    for number, ((model, seed), value) in enumerate(values.items()):
        _fake_job(
            tmp_path,
            str(number),
            [f"model={model}", f"seed={seed}", "debug=fast"],
            {"status": "ok", "val/loss_best": value},
        )
    _fake_job(
        tmp_path, "4", ["model=lstm", "seed=0", "debug=fast"], {"status": "failed", "error": "bad value"}
    )
    return tmp_path


def test_report_groups_seeds_and_ranks_configurations(fake_sweep):
    rows = summarize(read_sweep(fake_sweep), "val/loss_best", "min")
    assert [r["configuration"] for r in rows] == ["model=gru", "model=rnn", "model=lstm"]
    assert rows[0]["mean"] == pytest.approx(0.3) and rows[0]["std"] == pytest.approx(math.sqrt(0.02))
    assert rows[2]["ok"] == 0 and math.isnan(rows[2]["mean"])  # failed configurations go last
    best_max = summarize(read_sweep(fake_sweep), "val/loss_best", "max")
    assert best_max[0]["configuration"] == "model=rnn"


def test_report_writes_csv_markdown_and_plot(fake_sweep, capsys):
    report_main([str(fake_sweep)])
    with (fake_sweep / "report.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5
    assert rows[4]["status"] == "failed" and rows[4]["error"] == "bad value"
    markdown = (fake_sweep / "report.md").read_text()
    assert "| model=gru | 2 | 2 | 0.3 | 0.1414 |" in markdown
    assert (fake_sweep / "report.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "model=gru" in out and "job 4 (model=lstm, seed 0): failed: bad value" in out


def test_report_rounds_drawn_floats_in_labels(tmp_path):
    drawn = [
        "optimizer.lr=0.00014492412389916873",
        "model.dropout=0.21242177333881365",
        "model.hidden_size=64",
    ]
    _fake_job(tmp_path, "0", drawn, {"status": "ok", "val/loss_best": 0.5})
    _fake_job(
        tmp_path, "1", ["optimizer.lr=0.01", "model.dropout=0.1", "model.hidden_size=128"], {"status": "ok"}
    )
    (job, _) = read_sweep(tmp_path)
    assert job.configuration == "optimizer.lr=0.000145 model.dropout=0.212 model.hidden_size=64"


@pytest.fixture
def study_sweep(tmp_path) -> Path:
    """model x data.pairs x optimizer.lr x seed, accuracy made up so that the best lr
    differs by point, and the sweep's stored config names the picture (report.x)."""
    accuracy = {"transformer": {4: 1.0, 8: 0.98}, "lstm": {4: 0.9, 8: 0.5}}
    number = 0
    for model, by_pairs in accuracy.items():
        for pairs, acc in by_pairs.items():
            for lr in (0.001, 0.01):
                for seed in (0, 1):
                    # lr 0.01 is better at 4 pairs, 0.001 at 8; seed 1 a little lower
                    value = acc - (0.1 if (lr == 0.01) == (pairs == 8) else 0.0) - 0.02 * seed
                    overrides = [
                        f"model={model}",
                        f"data.pairs={pairs}",
                        f"optimizer.lr={lr}",
                        f"seed={seed}",
                    ]
                    metrics = {"status": "ok", "test/acc": value, "test/baseline_acc": 1 / 64}
                    _fake_job(tmp_path, str(number), overrides, metrics)
                    number += 1
    for config in tmp_path.glob("*/.hydra/config.yaml"):
        stored = {"optimized_metric": "test/acc", "optimized_mode": "max"}
        config.write_text(
            yaml.safe_dump({**stored, "report": {"x": "data.pairs", "best_over": ["optimizer.lr"]}})
        )
    return tmp_path


def test_report_draws_the_metric_against_a_swept_key_with_the_best_lr_at_each_point(study_sweep, capsys):
    report_main([str(study_sweep)])  # metric, mode, x and best_over from the stored config
    markdown = (study_sweep / "report.md").read_text()
    assert "## test/acc against data.pairs (mean ± std over seeds)" in markdown
    assert (
        "| model=lstm | 0.89 ± 0.01414 (optimizer.lr=0.01) | 0.49 ± 0.01414 (optimizer.lr=0.001) |"
        in markdown
    )
    assert "| model=transformer | 0.99 ± 0.01414 (optimizer.lr=0.01) |" in markdown
    assert (study_sweep / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert "model=transformer" in capsys.readouterr().out


def test_a_point_with_one_run_shows_no_spread(study_sweep, capsys):
    for job in study_sweep.glob("*/.hydra/overrides.yaml"):
        if "seed=1" in job.read_text():
            shutil.rmtree(job.parent.parent)
    report_main([str(study_sweep)])
    markdown = (study_sweep / "report.md").read_text()
    assert "| line \\ data.pairs | 4 | 8 |" in markdown
    assert "| model=lstm | 0.9 (optimizer.lr=0.01) | 0.5 (optimizer.lr=0.001) |" in markdown


def test_report_refuses_an_x_that_is_not_a_swept_number(study_sweep, capsys):
    with pytest.raises(SystemExit) as stop:
        report_main([str(study_sweep), "--x", "model"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "rnnlab-report: error: --x must be a swept key with numeric values, or a metric the runs wrote "
        "with --along naming the swept keys that move a point along a line (got 'model'): swept: model, "
        "data.pairs, optimizer.lr"
    )


def test_report_draws_the_metric_against_another_metric_along_a_swept_key(tmp_path, capsys):
    """The recall study's picture: test/acc against model/state_size, a line per family, its
    points the widths (report.along); each point at its runs' mean state size."""
    state = {"lstm": 4, "deltanet": 20}  # numbers of state per unit of width
    for number, (model, width, seed) in enumerate((m, w, s) for m in state for w in (32, 64) for s in (0, 1)):
        overrides = [f"model={model}", f"model.hidden_size={width}", f"seed={seed}"]
        metrics = {
            "status": "ok",
            "test/acc": 0.5 + width / 200 + seed / 100,
            "model/state_size": state[model] * width,
        }
        _fake_job(tmp_path, str(number), overrides, metrics)
    report_main([str(tmp_path), "--metric", "test/acc", "--mode", "max", "--x", "model/state_size",
                 "--along", "model.hidden_size"])  # fmt: skip
    markdown = (tmp_path / "report.md").read_text()
    assert "| line \\ model.hidden_size | 32 | 64 |" in markdown
    assert "| model=deltanet | 0.665 ± 0.007071 @ 640 | 0.825 ± 0.007071 @ 1280 |" in markdown
    assert "| model=lstm | 0.665 ± 0.007071 @ 128 | 0.825 ± 0.007071 @ 256 |" in markdown
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_report_of_a_directory_without_jobs(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        report_main([str(tmp_path)])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"rnnlab-report: error: sweep must be a sweep directory with numbered job dirs (got '{tmp_path}')"
    )


@pytest.mark.slow
def test_failing_jobs_do_not_end_the_sweep(tmp_path):
    result = run_main(
        "rnnlab-train",
        "-m",
        *FAST,
        "optimizer=sgd",
        "model=rnn",
        "model.nonlinearity=relu",
        "trainer.gradient_clip_val=null",
        "model.hidden_size=8,0",
        "optimizer.lr=0.05,1e6",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = {}
    for job in read_sweep(tmp_path):
        statuses[job.configuration] = job.status
    assert statuses == {
        "model.hidden_size=8 optimizer.lr=0.05": "ok",
        "model.hidden_size=8 optimizer.lr=1e+06": "diverged",
        "model.hidden_size=0 optimizer.lr=0.05": "failed",
        "model.hidden_size=0 optimizer.lr=1e+06": "failed",
    }
    failed = json.loads((tmp_path / "2" / "metrics.json").read_text())
    assert failed["error"] == "model.hidden_size must be an integer >= 1 (got 0)"
    diverged = json.loads((tmp_path / "1" / "metrics.json").read_text())
    assert diverged["error"].startswith("the loss became nan at step")
    report = run_cli("rnnlab-report", str(tmp_path))
    assert report.returncode == 0
    assert "job 1 (model.hidden_size=8 optimizer.lr=1e+06, seed -): diverged" in report.stdout


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_parallel_with_shared_threads(tmp_path):
    result = run_cli(
        "rnnlab-train",
        "-m",
        *FAST,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "model=rnn,gru",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = read_sweep(tmp_path)
    assert [job.status for job in jobs] == ["ok", "ok"]
    cores = available_cores()  # the affinity mask: a pinned CI job may see fewer than os.cpu_count()
    for job in jobs:
        env = json.loads((tmp_path / job.name / "env.json").read_text())
        assert env["torch_threads"] == max(1, cores // 2)  # 2 jobs at once share the cores


def test_threads_setting(compose_train):
    import torch

    from rnnlab.errors import ConfigError
    from rnnlab.run.launch import torch_threads

    before = torch.get_num_threads()
    try:
        assert torch_threads(1) == 1 and torch.get_num_threads() == 1
        with pytest.raises(ConfigError, match=r"^threads must be an integer >= 1, or null for every core"):
            torch_threads(0)
        # null outside a sweep: every core this process may run on
        assert torch_threads(None) == available_cores() == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
