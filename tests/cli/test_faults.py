"""A write that fails mid-run (a full disk, a folder that stops being writable) ends in one
line naming the path and what was kept, the last good checkpoint intact and loadable.

In this process a write is made to fail the way the OS fails it (OSError with the errno and
the path); on Linux with the right to mount, a real 700 KB file system fills up under a run.
"""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlab.run import results
from rnnlab.run.checkpoint import read_checkpoint
from tests.conftest import FAST, run_entry


def _full_disk(path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _fail_metrics(monkeypatch):
    original = results.write_whole

    def write_whole(path, text):
        if Path(path).name == "metrics.json":
            raise _full_disk(path)
        return original(path, text)

    monkeypatch.setattr(results, "write_whole", write_whole)
    return "metrics.json"


def _fail_tensorboard(monkeypatch):
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    def add_event(self, event):
        if event.step >= 2:  # the second epoch's scalars and figures, after the first checkpoint
            raise _full_disk(self._file_name)

    monkeypatch.setattr(EventFileWriter, "add_event", add_event)
    return "tfevents"


def _fail_permission(monkeypatch):

    def write_whole(path, text):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(results, "write_whole", write_whole)
    return "metrics.json"


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        pytest.param(_fail_metrics, "no space left on the device", marks=pytest.mark.slow),
        (_fail_tensorboard, "no space left on the device"),
        pytest.param(_fail_permission, "permission denied", marks=pytest.mark.slow),
    ],
    ids=["metrics.json", "tensorboard", "permission"],
)
def test_a_write_that_fails_mid_run_is_one_line_and_the_checkpoint_is_kept(
    tmp_path, monkeypatch, fault, reason
):
    run_dir = tmp_path / "run"
    failing = fault(monkeypatch)
    code, _, stderr = run_entry("rnnlab-train", *FAST, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}")
    monkeypatch.undo()
    assert code == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("rnnlab-train")]
    assert line.startswith(f"rnnlab-train: error: could not write {run_dir}")
    assert failing in line and f": {reason}; {run_dir / 'checkpoints' / 'last.ckpt'} (epoch " in line
    assert f"is intact: rnnlab-train resume={run_dir} continues from it" in line
    assert read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["global_step"] > 0
    if failing == "tfevents":  # the disk took the status
        assert json.loads((run_dir / "metrics.json").read_text())["status"] == "failed"
    else:  # metrics.json itself could not be written: the line says so
        assert line.endswith(f"(metrics.json could not be written either: {reason})")


MOUNT = Path("/tmp") / "rnnlab-full-disk"


@pytest.mark.slow  # a subprocess run on a file system of its own: 12 s
@pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0, reason="mounting a tmpfs needs root on Linux"
)
def test_a_disk_that_fills_under_a_run_keeps_the_last_good_checkpoint(tmp_path):
    MOUNT.mkdir(exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(MOUNT)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        run_dir = MOUNT / "run"
        script = Path(sys.executable).parent / "rnnlab-train"
        result = subprocess.run(
            [str(script), *FAST, "trainer.max_epochs=4", f"hydra.run.dir={run_dir}"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 1, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        (line,) = [line for line in result.stderr.splitlines() if line.startswith("rnnlab-train")]
        last = run_dir / "checkpoints" / "last.ckpt"
        assert line.startswith(f"rnnlab-train: error: could not write {run_dir / 'checkpoints'}/epoch")
        assert f": no space left on the device; {last} (epoch 0, step 2) is intact" in line
        assert read_checkpoint(last)["epoch"] == 0  # loadable, and the epoch the line names
        for checkpoint in (run_dir / "checkpoints").glob("*.ckpt"):  # no half-written one is left
            read_checkpoint(checkpoint)
        assert json.loads((run_dir / "metrics.json").read_text())["status"] == "failed"
    finally:
        subprocess.run(["umount", str(MOUNT)], check=False)


@pytest.mark.parametrize("entry", [pytest.param("rnnlab-predict", marks=pytest.mark.slow), "rnnlab-report"])
def test_a_full_disk_under_another_entry_point_is_one_line(sine_run, tmp_path, monkeypatch, entry):
    import matplotlib.figure

    def savefig(self, path, *args, **kwargs):
        raise _full_disk(path)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    if entry == "rnnlab-predict":
        folder = tmp_path / "forecast"
        args = [f"run={sine_run}", "steps=5", f"hydra.run.dir={folder}"]
        written = folder / "forecast.png"
    else:
        folder = tmp_path / "sweep" / "0"
        (folder / ".hydra").mkdir(parents=True)
        (folder / ".hydra" / "overrides.yaml").write_text("- seed=0\n")
        (folder / "metrics.json").write_text('{"status": "ok", "val/loss": 0.5}')
        args = [str(tmp_path / "sweep"), "--metric", "val/loss"]
        written = tmp_path / "sweep" / "report.png"
    code, _, stderr = run_entry(entry, *args)
    assert code == 1, stderr[-3000:]
    (line,) = [line for line in stderr.splitlines() if line.startswith("rnnlab-")]
    assert line == f"{entry}: error: could not write {written}: no space left on the device"
