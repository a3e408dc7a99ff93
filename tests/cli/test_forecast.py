"""Forecasting in use: rnnlab-predict past the end of a CSV, conformal intervals, and
rnnlab-export's programs run without rnnlab."""

import csv
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.tasks import conformal
from tests.conftest import FAST, one_line, run_entry

ROOT = Path(__file__).resolve().parents[2]
WINDOW, HORIZON, AHEAD = 24, 4, 12


def _load_csv(folder: Path, hours: int = 600, ahead: int = AHEAD) -> Path:
    """The README's load example, short, with ``ahead`` rows of temperature only at the end."""
    path = folder / "load.csv"
    script = ROOT / "scripts" / "make_load_csv.py"
    subprocess.run(
        [sys.executable, str(script), str(path), "--hours", str(hours), "--ahead", str(ahead)],
        check=True,
        capture_output=True,
    )
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _write_rows(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows({name: row[name] for name in columns} for row in rows)
    return path


@pytest.fixture(scope="session")
def load_run(tmp_path_factory) -> tuple[Path, Path]:
    """A finished quantile forecaster (LSTM 1x64, debug=fast) of the load with the
    temperature, and its CSV."""
    folder = tmp_path_factory.mktemp("load")
    data = _load_csv(folder)
    run = folder / "run"
    code, _, stderr = run_entry(
        "rnnlab-train", *FAST, "data=series", f"data.path={data}", "data.target=load",
        "data.covariates=[temperature]", "data.time_column=time", f"data.window={WINDOW}",
        f"data.horizon={HORIZON}", "data.rollout_steps=8", "task.likelihood=quantile",
        f"hydra.run.dir={run}",
    )  # fmt: skip
    assert code == 0, stderr[-3000:]
    return run, data


def _predict(tmp_path: Path, *args: str, name: str = "out") -> tuple[int, str, Path]:
    out = tmp_path / name
    code, stdout, stderr = run_entry("rnnlab-predict", *args, f"hydra.run.dir={out}")
    return code, stdout + stderr, out


def test_predict_writes_the_rows_after_the_last_with_times_and_intervals(load_run, tmp_path):
    run, data = load_run
    code, output, out = _predict(tmp_path, f"run={run}", f"steps={AHEAD}", f"data.path={data}")
    assert code == 0, output[-3000:]
    rows = _rows(out / "forecast.csv")
    assert list(rows[0]) == ["time", "load", "load_lo_80", "load_hi_80"] and len(rows) == AHEAD
    known = [row for row in _rows(data) if row["load"]]
    last = datetime.fromisoformat(known[-1]["time"])
    times = [datetime.fromisoformat(row["time"]) for row in rows]
    assert times == [last + timedelta(hours=k) for k in range(1, AHEAD + 1)]
    for row in rows:
        low, point, high = (float(row[name]) for name in ("load_lo_80", "load", "load_hi_80"))
        assert low <= point <= high and 30 < point < 120
    about = json.loads((out / "forecast.json").read_text())
    assert about["steps"] == AHEAD and about["interval"] == "model" and about["last_row"] == len(known)
    # the rollout past the horizon read the temperature's future rows: 8 of the 12
    assert any("8 rows after the last target value" in note for note in about["notes"])
    assert (out / "forecast.png").stat().st_size > 10_000
    assert "forecast: 12 steps" in output


def test_the_first_horizon_is_the_forecast_eval_scores_for_that_window(load_run, tmp_path):
    """Cut the file where a test window ends: predict's forecast is the task's for that
    window, which rnnlab-eval scores."""
    from rnnlab.run.build import build_datamodule
    from rnnlab.run.checkpoint import load_checkpoint

    run, data = load_run
    checkpoint = next(path for path in (run / "checkpoints").glob("*.ckpt") if path.name != "last.ckpt")
    task, config = load_checkpoint(checkpoint)
    datamodule = build_datamodule(config)
    x, _ = datamodule.datasets["test"].tensors
    start = datamodule.bounds[2][0]
    rows = [row for row in _rows(data) if row["load"]][: start + WINDOW]
    cut = _write_rows(tmp_path / "cut.csv", rows, ["time", "load", "temperature"])
    code, output, out = _predict(tmp_path, f"ckpt_path={checkpoint}", f"steps={HORIZON}", f"data.path={cut}")
    assert code == 0, output[-3000:]
    with torch.no_grad():
        expected = task(x[:1].float())[0, :, 0]
    got = torch.tensor([float(row["load"]) for row in _rows(out / "forecast.csv")])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.slow  # the default run keeps the forecast itself; the rest run with the slow tests
def test_columns_in_another_order_give_the_same_forecast(load_run, tmp_path):
    run, data = load_run
    rows = _rows(data)
    shuffled = _write_rows(tmp_path / "shuffled.csv", rows, ["temperature", "time", "load"])
    forecasts = []
    for name, path in (("a", data), ("b", shuffled)):
        code, output, out = _predict(tmp_path, f"run={run}", "steps=6", f"data.path={path}", name=name)
        assert code == 0, output[-3000:]
        forecasts.append((out / "forecast.csv").read_text())
    assert forecasts[0] == forecasts[1]


@pytest.mark.slow
def test_conformal_calibration_at_predict_time_changes_only_the_interval(load_run, tmp_path):
    run, data = load_run
    _, _, raw = _predict(tmp_path, f"run={run}", "steps=4", f"data.path={data}", name="raw")
    code, output, calibrated = _predict(
        tmp_path, f"run={run}", "steps=4", f"data.path={data}", "calibrate=conformal", name="conformal"
    )
    assert code == 0, output[-3000:]
    before, after = _rows(raw / "forecast.csv"), _rows(calibrated / "forecast.csv")
    assert [row["load"] for row in before] == [row["load"] for row in after]
    assert [row["load_lo_80"] for row in before] != [row["load_lo_80"] for row in after]
    assert json.loads((calibrated / "forecast.json").read_text())["interval"] == "conformal"


@pytest.mark.slow
def test_training_with_calibration_reports_raw_and_calibrated_coverage(tmp_path):
    out = tmp_path / "run"
    code, _, stderr = run_entry(
        "rnnlab-train", *FAST, "task.calibrate=conformal", "model.hidden_size=8", f"hydra.run.dir={out}"
    )
    assert code == 0, stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    # a point forecast: the interval comes from the validation residuals alone
    assert 0 <= metrics["test/coverage_conformal"] <= 1 and metrics["test/width_conformal"] > 0
    assert "test/coverage" not in metrics


def test_conformal_margins_hold_their_coverage_on_exchangeable_scores():
    generator = torch.Generator().manual_seed(0)
    calibration = torch.randn(999, 3, 2, generator=generator).abs()
    margins = conformal.margins(calibration, 0.8)
    # the ceil((n + 1) * 0.8) = 800th smallest of each step and target
    torch.testing.assert_close(margins, calibration.sort(dim=0).values[799])
    fresh = torch.randn(20_000, 3, 2, generator=generator).abs()
    covered = (fresh <= margins).float().mean().item()
    assert 0.78 < covered < 0.82
    assert torch.isinf(conformal.margins(calibration[:3], 0.8)).all()  # too few to support 80%
    truth, lower, upper = torch.tensor([1.0, 5.0, 3.0]), torch.tensor([2.0] * 3), torch.tensor([4.0] * 3)
    torch.testing.assert_close(conformal.scores(truth, lower, upper), torch.tensor([1.0, 1.0, -1.0]))


def _mistakes(
    run: Path, data: Path, text_run: Path, sine_run: Path, tmp_path: Path
) -> dict[str, tuple[list[str], str]]:
    rows = _rows(data)
    missing = _write_rows(tmp_path / "missing.csv", rows, ["time", "load"])
    short = _write_rows(tmp_path / "short.csv", rows[: WINDOW - 1], ["time", "load", "temperature"])
    blocked = tmp_path / "file"
    blocked.write_text("")
    return {
        "not a forecaster": ([f"run={text_run}", "steps=4"], "run must be a forecasting run"),
        "no run": (["steps=4"], "run must be a run dir of rnnlab-train"),
        "missing column": (
            [f"run={run}", "steps=4", f"data.path={missing}"],
            "data.path must be a CSV with the run's columns (load, temperature, time)",
        ),
        "too few rows": (
            [f"run={run}", "steps=4", f"data.path={short}"],
            f"data.path must be a CSV with at least the run's window of rows ({WINDOW})",
        ),
        "steps 0": ([f"run={run}", "steps=0"], "steps must be an integer in [1, 100000] (got 0)"),
        "steps negative": ([f"run={run}", "steps=-3"], "steps must be an integer in [1, 100000] (got -3)"),
        "steps fraction": ([f"run={run}", "steps=1.5"], "steps must be an integer in [1, 100000] (got 1.5)"),
        "steps missing": ([f"run={run}"], "steps must be an integer in [1, 100000]"),
        "steps huge": (
            [f"run={run}", "steps=1000000000"],
            "steps must be an integer in [1, 100000] (got 1000000000)",
        ),
        "freq against the column": (
            [f"run={run}", "steps=4", f"data.path={data}", "freq=2h"],
            "freq must be null or the time column's own step (1:00:00): the rows are evenly spaced "
            "(got '2h')",
        ),
        "a directory as data": ([f"run={run}", "steps=4", f"data.path={tmp_path}"], "data.path must be"),
        "past the covariates": (
            [f"run={run}", "steps=40", f"data.path={data}"],
            "steps must be at most 16 for this file (got 40): past the horizon (4)",
        ),
        "bad freq": ([f"run={run}", "steps=4", "freq=3 fortnights"], "freq must be a number and a unit"),
        "calibration too long": (
            [f"run={sine_run}", "steps=1000", "calibrate=conformal"],
            "with calibrate=conformal (got 1000): the validation split of the file holds",
        ),
        "unwritable dir": (
            [f"run={run}", "steps=4", f"hydra.run.dir={blocked / 'out'}"],
            "hydra.run.dir must be",
        ),
    }


# three in the default run (a setting, a file, the covariates); the rest with the slow tests
FAST_MISTAKES = ("steps 0", "missing column", "past the covariates")


@pytest.mark.parametrize(
    "mistake",
    [
        name if name in FAST_MISTAKES else pytest.param(name, marks=pytest.mark.slow)
        for name in (
            "not a forecaster", "no run", "missing column", "too few rows", "steps 0", "steps negative",
            "steps fraction", "steps missing", "steps huge", "freq against the column", "a directory as data",
            "past the covariates", "bad freq", "calibration too long", "unwritable dir",
        )
    ],
)  # fmt: skip
def test_predict_mistakes_are_one_line_and_write_nothing(load_run, text_run, sine_run, tmp_path, mistake):
    run, data = load_run
    args, expected = _mistakes(run, data, text_run, sine_run, tmp_path)[mistake]
    out = tmp_path / "out"
    if not any(arg.startswith("hydra.run.dir=") for arg in args):
        args = [*args, f"hydra.run.dir={out}"]
    code, _, stderr = run_entry("rnnlab-predict", *args)
    assert code == 2, stderr[-2000:]
    assert expected in one_line(stderr)
    assert not (out / "forecast.csv").exists()


@pytest.mark.slow
def test_an_irregular_time_column_asks_for_freq(load_run, tmp_path):
    run, data = load_run
    rows = [row for row in _rows(data) if row["load"]]
    rows[-3]["time"] = rows[-3]["time"].replace(":00", ":30")  # one row half an hour off
    irregular = _write_rows(tmp_path / "irregular.csv", rows, ["time", "load", "temperature"])
    code, _, stderr = run_entry(
        "rnnlab-predict", f"run={run}", "steps=2", f"data.path={irregular}", f"hydra.run.dir={tmp_path / 'x'}"
    )
    assert code == 2 and "freq must be a number and a unit" in one_line(stderr)
    assert "the time column's rows are not evenly spaced" in one_line(stderr)
    code, output, out = _predict(tmp_path, f"run={run}", "steps=2", f"data.path={irregular}", "freq=2h")
    assert code == 0, output[-3000:]
    last = datetime.fromisoformat(rows[-1]["time"])
    assert [row["time"] for row in _rows(out / "forecast.csv")] == [
        (last + timedelta(hours=2 * k)).isoformat(sep=" ", timespec="minutes") for k in (1, 2)
    ]


@pytest.mark.slow
def test_values_on_another_scale_are_warned_with_the_ratio(load_run, tmp_path):
    run, data = load_run
    rows = _rows(data)
    for row in rows:
        row["load"] = str(float(row["load"]) * 1000) if row["load"] else ""
        row["temperature"] = str(float(row["temperature"]) * 100)
    kilo = _write_rows(tmp_path / "kilo.csv", rows, ["time", "load", "temperature"])
    code, output, _ = _predict(tmp_path, f"run={run}", "steps=4", f"data.path={kilo}")
    assert code == 0
    assert "warning: load: its last" in output and "as widely as in training" in output
    assert "warning: temperature: its last" in output  # a covariate, named as the run's config names it


def _export(run: Path, tmp_path: Path, fmt: str) -> Path:
    out = tmp_path / fmt
    code, _, stderr = run_entry("rnnlab-export", f"run={run}", f"format={fmt}", f"hydra.run.dir={out}")
    assert code == 0, stderr[-3000:]
    return out


# the exported model in a process of its own: plain PyTorch or onnxruntime, no rnnlab
_RUN_EXPORT = """
import json, sys
import numpy as np
folder, fmt = sys.argv[1], sys.argv[2]
about = json.load(open(f"{folder}/model.json"))
window = np.load(f"{folder}/window.npy")
if fmt == "torch":
    import torch
    program = torch.export.load(f"{folder}/{about['file']}").module()
    forecast, interval = (t.numpy() for t in program(torch.from_numpy(window)))
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(f"{folder}/{about['file']}")
    forecast, interval = session.run(None, {about["input"]["name"]: window})
assert not any(name.startswith("rnnlab") for name in sys.modules), "rnnlab was imported"
np.save(f"{folder}/forecast.npy", forecast)
np.save(f"{folder}/interval.npy", interval)
"""


@pytest.mark.slow  # a Python of its own to load the program in: 3-5 s each
@pytest.mark.parametrize("fmt", ["torch", "onnx"])
def test_an_exported_forecaster_answers_like_rnnlab_without_it(load_run, tmp_path, fmt):
    from rnnlab.run.build import build_datamodule
    from rnnlab.run.forecast import load_forecaster

    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    run, _ = load_run
    out = _export(run, tmp_path, fmt)
    about = json.loads((out / "model.json").read_text())
    assert about["columns"] == ["load", "temperature"] and about["window"] == WINDOW
    assert about["horizon"] == HORIZON and about["interval"]["levels"] == [0.1, 0.9]
    task, config, _ = load_forecaster(str(run), None)
    windows = build_datamodule(config).datasets["test"].tensors[0][:5].float()
    np.save(out / "window.npy", windows.numpy())
    subprocess.run([sys.executable, "-c", _RUN_EXPORT, str(out), fmt], check=True, cwd=tmp_path)
    with torch.no_grad():
        forecast, interval = task.forecast_interval(windows)
    np.testing.assert_allclose(np.load(out / "forecast.npy"), forecast.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.load(out / "interval.npy"), interval.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_a_model_onnx_cannot_express_is_refused_naming_the_operation(tmp_path):
    pytest.importorskip("onnxruntime")
    run = tmp_path / "run"
    code, _, stderr = run_entry(
        "rnnlab-train",
        *FAST,
        "model=deltanet",
        "model.hidden_size=8",
        "data.window=16",
        f"hydra.run.dir={run}",
    )
    assert code == 0, stderr[-3000:]
    code, _, stderr = run_entry(
        "rnnlab-export", f"run={run}", "format=onnx", f"hydra.run.dir={tmp_path / 'x'}"
    )
    assert code == 2
    line = one_line(stderr)
    assert "format must be torch for this model (ONNX refused it)" in line and "solve_triangular" in line
    assert not (tmp_path / "x" / "model.json").exists()
