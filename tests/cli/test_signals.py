"""A signal at any phase of a run: metrics.json says interrupted and where, a checkpoint to
resume from once training had started, exit 128 + the signal, and the resume command.

Each run is in this process: a phase's hook (or the step that starts the phase) sends SIGTERM
to the process itself, and the handler runs there as it would for a signal from outside
(tests/cli/test_reproducibility.py sends one to a real rnnlab-train process).
"""

import json
import os
import signal

import pytest

from rnnlab.callbacks.safety import GracefulInterrupt
from rnnlab.run import build, trackers
from rnnlab.run.checkpoint import read_checkpoint
from tests.conftest import FAST, run_entry


def _kill_after(owner, name: str, monkeypatch, when=lambda *args: True) -> None:
    """Send SIGTERM to this process right after ``owner.name`` runs (once, where ``when``)."""
    original = getattr(owner, name)
    sent = []

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if not sent and when(*args):
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
        return result

    monkeypatch.setattr(owner, name, wrapped)


# phase -> (where the signal is sent, extra overrides, whether a checkpoint is kept)
PHASES = {
    "start-up": ((build, "build_datamodule"), [], False),
    "sanity check": ((GracefulInterrupt, "on_sanity_check_start"), ["trainer.num_sanity_val_steps=1"], False),
    "training": ((GracefulInterrupt, "on_train_start"), ["trainer.max_epochs=2"], True),
    "validation": ((GracefulInterrupt, "on_validation_start"), ["trainer.max_epochs=2"], True),
    "test": ((GracefulInterrupt, "on_test_start"), [], True),
    "writing results": ((trackers, "finish"), [], True),
}


# the phase Lightning's own handler ended with exit 0 runs in the default run; the rest (the
# start and training with their resumes) run with the slow tests, to keep the default run short
FAST_PHASES = ("sanity check",)


@pytest.mark.parametrize(
    "phase",
    [phase if phase in FAST_PHASES else pytest.param(phase, marks=pytest.mark.slow) for phase in PHASES],
)
def test_a_signal_at_any_phase_ends_the_run_with_its_status_and_the_resume_command(
    tmp_path, monkeypatch, phase
):
    (owner, name), overrides, kept = PHASES[phase]
    _kill_after(owner, name, monkeypatch)
    run_dir = tmp_path / "run"
    code, _, stderr = run_entry("rnnlab-train", *FAST, *overrides, f"hydra.run.dir={run_dir}")
    monkeypatch.undo()
    assert code == 128 + signal.SIGTERM, stderr[-3000:]
    assert "Traceback" not in stderr
    lines = [line.strip() for line in stderr.splitlines() if line.strip().startswith("rnnlab-train")]
    stopped = "training" if phase == "validation" else phase  # validation ends at the next step
    assert lines[0].startswith(f"rnnlab-train: interrupted by SIGTERM during {stopped}; ")
    assert lines[1:] == [f"rnnlab-train resume={run_dir}"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (metrics["status"], metrics["phase"], metrics["signal"]) == ("interrupted", stopped, "SIGTERM")
    last = run_dir / "checkpoints" / "last.ckpt"
    assert last.is_file() == kept
    if kept:
        assert read_checkpoint(last)["global_step"] > 0
    if phase == "writing results":  # what the finished run wrote is kept
        assert "test/mse" in metrics
    if phase in ("start-up", "training"):  # the resume command works: from the start, or the step
        again = tmp_path / "again"
        code, _, stderr = run_entry("rnnlab-train", f"resume={run_dir}", f"hydra.run.dir={again}")
        assert code == 0, stderr[-3000:]
        assert json.loads((again / "metrics.json").read_text())["status"] == "ok"
