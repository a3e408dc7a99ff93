"""rnnlab as a user installs it: the wheel `pip wheel .` builds, in a fresh virtual
environment (the lock as constraints), run from an empty directory far from the checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["debug=fast", "callbacks.rich_progress_bar=null"]


def _run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_the_wheel_runs_every_entry_point_from_an_empty_directory(tmp_path):
    dist, venv, empty = tmp_path / "dist", tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)], tmp_path)
    (wheel,) = dist.glob("rnnlab-*.whl")
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "-c", str(ROOT / "requirements.lock"), str(wheel)], tmp_path)
    installed = _run([str(venv / "bin" / "python"), "-c", "import rnnlab; print(rnnlab.CONFIG_DIR)"], empty)
    assert str(venv) in installed.stdout and str(ROOT) not in installed.stdout  # not the checkout's
    bin_ = venv / "bin"

    _run([str(bin_ / "rnnlab-train"), *QUIET, "hydra.run.dir=run"], empty)
    assert json.loads((empty / "run" / "metrics.json").read_text())["status"] == "ok"
    _run([str(bin_ / "rnnlab-eval"), "ckpt_path=run/checkpoints/last.ckpt", "hydra.run.dir=eval"], empty)
    assert "test/mse" in json.loads((empty / "eval" / "metrics.json").read_text())
    _run([str(bin_ / "rnnlab-predict"), "run=run", "steps=8", "hydra.run.dir=forecast"], empty)
    assert len((empty / "forecast" / "forecast.csv").read_text().splitlines()) == 1 + 8
    _run([str(bin_ / "rnnlab-export"), "run=run", "hydra.run.dir=export"], empty)
    assert json.loads((empty / "export" / "model.json").read_text())["file"] == "model.pt2"

    text = ["data=text", "model.hidden_size=16", "data.window=32", "data.batch_size=16"]
    _run([str(bin_ / "rnnlab-train"), *QUIET, *text, "hydra.run.dir=text"], empty)
    sample = _run([str(bin_ / "rnnlab-sample"), "ckpt_path=text/checkpoints/last.ckpt", "length=20"], empty)
    assert sample.stdout.startswith("The ")

    _run([str(bin_ / "rnnlab-train"), "-m", *QUIET, "seed=0,1", "hydra.sweep.dir=sweep"], empty)
    report = _run([str(bin_ / "rnnlab-report"), "sweep"], empty)
    assert "2 jobs" in report.stdout and (empty / "sweep" / "report.png").is_file()
