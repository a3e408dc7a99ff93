"""Shared fixtures: compose the real config tree, the way rnnlab-train does."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from torch import nn

import rnnlab

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = rnnlab.CONFIG_DIR
LEARNING_SEED = int(os.environ.get("RNNLAB_TEST_SEED", "0"))


@pytest.fixture
def seed() -> int:
    """A learning test's seed: 0, or RNNLAB_TEST_SEED when its figures are measured over
    seeds (scripts/learning_seeds.py). A fixed seed is not the same run on another CPU: each
    bound must hold with margin over the seeds measured."""
    return LEARNING_SEED


@pytest.fixture
def figure(request) -> Callable[[str, float], float]:
    """``figure(name, value)`` returns ``value``, and records it (with the test and the seed) in
    the JSON-lines file RNNLAB_FIGURES when that is set: what a bound is measured from."""

    def record(name: str, value: float) -> float:
        path = os.environ.get("RNNLAB_FIGURES")
        if path:
            import json

            row = {"test": request.node.nodeid, "figure": name, "seed": LEARNING_SEED, "value": float(value)}
            with open(path, "a") as handle:
                handle.write(json.dumps(row) + "\n")
        return float(value)

    return record


# A quick but real run: few batches per split, one epoch, every file still written.
FAST = ["debug=fast", "callbacks.rich_progress_bar=null"]
TEXT = [*FAST, "data=text", "data.window=32", "data.batch_size=16", "model.hidden_size=16"]


def options(group: str) -> list[str]:
    """The options of a config group, as conf/ has them (Hydra lists them the same way)."""
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def composed(*overrides: str) -> DictConfig:
    """conf/train.yaml composed with ``overrides``, outside any run."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=["paths.output_dir=.", *overrides])


def model_builder(option: str, **fixed) -> Callable[..., nn.Module]:
    """A builder of conf/model/<option>.yaml's network, as a run builds it, that takes the
    sizes (and any other setting) as keywords."""
    from rnnlab.run.targets import instantiate

    node = OmegaConf.to_container(composed(f"model={option}").model, resolve=True)
    return lambda **settings: instantiate("model", {**node, **fixed, **settings})


# the model families beside the classic cells (model=rnn|lstm|gru|lstm_ln): every option of
# conf/model whose class is not RecurrentNet, so that a new family's file and config are all
# it takes for the family tests to cover it
FAMILY_OPTIONS = [
    option
    for option in options("model")
    if composed(f"model={option}").model._target_ != "rnnlab.models.net.RecurrentNet"
]


@pytest.fixture
def compose_train(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose conf/train.yaml with overrides, writing into a fresh temporary run dir."""

    def _compose(*overrides: str) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose("train", overrides=[f"paths.output_dir={tmp_path}", *overrides])

    return _compose


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write a CSV with the given columns (dict of name -> values) and return its path."""

    def _write(columns: dict[str, list], name: str = "series.csv") -> Path:
        path = tmp_path / name
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(zip(*columns.values(), strict=True))
        return path

    return _write


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``rnnlab-train`` (or another entry point) as a user would, in a subprocess."""
    script = Path(sys.executable).parent / args[0]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [str(script), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_entry(entry: str, *args: str) -> tuple[int, str, str]:
    """Run an entry point (``rnnlab-train``, ``rnnlab-eval``, ...) in this process, as its
    console script would, and return (exit code, stdout, stderr). Much faster than a
    subprocess (torch and Lightning are imported already); use ``run_cli`` where the process
    itself is the point (signals, DDP workers)."""
    import contextlib
    import io
    import logging

    from rnnlab.cli import bench as bench_cli
    from rnnlab.cli import eval as eval_cli
    from rnnlab.cli import export as export_cli
    from rnnlab.cli import predict as predict_cli
    from rnnlab.cli import report as report_cli
    from rnnlab.cli import sample as sample_cli
    from rnnlab.cli import train as train_cli

    main = {
        "rnnlab-report": report_cli.main,
        "rnnlab-bench": bench_cli.main,
        "rnnlab-train": train_cli.cli,
        "rnnlab-eval": eval_cli.cli,
        "rnnlab-sample": sample_cli.cli,
        "rnnlab-predict": predict_cli.cli,
        "rnnlab-export": export_cli.cli,
    }[entry]
    stdout, stderr = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, [entry, *args]
    code = 0
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv = argv
        for handler in logging.getLogger().handlers[:]:  # Hydra's console and file handlers
            logging.getLogger().removeHandler(handler)
            handler.close()
    return code, stdout.getvalue(), stderr.getvalue()


def one_line(stderr: str) -> str:
    """The single line a user mistake prints; Python's warnings (library noise) aside."""
    lines = [line for line in stderr.strip().splitlines() if line.startswith("rnnlab-")]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def _finished_run(tmp_path_factory, name: str, args: list[str]) -> Path:
    run = tmp_path_factory.mktemp(name) / "run"
    code, _, stderr = run_entry("rnnlab-train", *args, f"hydra.run.dir={run}")
    assert code == 0, stderr[-3000:]
    return run


@pytest.fixture(scope="session")
def text_run(tmp_path_factory) -> Path:
    """A finished character-level run (debug=fast), trained once per test session."""
    return _finished_run(tmp_path_factory, "text", TEXT)


@pytest.fixture(scope="session")
def sine_run(tmp_path_factory) -> Path:
    """A finished forecasting run (debug=fast, the default task), trained once per session."""
    return _finished_run(tmp_path_factory, "sine", FAST)


def run_main(*args: str) -> subprocess.CompletedProcess:
    """``run_cli``'s result, from a run in this process (``run_entry``): the same exit code,
    stdout and stderr for rnnlab-train, -eval and -sample, without starting Python again."""
    code, stdout, stderr = run_entry(*args)
    return subprocess.CompletedProcess(list(args), code, stdout, stderr)
