"""startup: wall time of ``rnnlab-train --help`` and ``rnnlab-train --cfg job`` (which must
not import torch or Lightning), and of a whole 1-step run (``trainer.max_steps=1``, no
validation or test), an upper bound on the time to the first training step."""

from __future__ import annotations

import statistics
import tempfile

from rnnlab.bench.common import print_table, rnnlab_train, run_timed, runs

REPEATS = 5


def measure(repeats: int) -> dict:
    train = rnnlab_train()
    with tempfile.TemporaryDirectory() as tmp:
        one_step = [
            train,
            "trainer.max_steps=1",
            "trainer.limit_val_batches=0",
            "trainer.num_sanity_val_steps=0",
            "test=false",
            "callbacks.early_stopping=null",
            "callbacks.model_checkpoint.monitor=null",
            "callbacks.gradient_flow=null",
            f"paths.root_dir={tmp}",
        ]
        commands = {"--help": [train, "--help"], "--cfg job": [train, "--cfg", "job"], "1-step run": one_step}
        run_timed(commands["--help"])  # warm the file cache
        times = {name: [run_timed(command) for _ in range(repeats)] for name, command in commands.items()}
    return {
        "repeats": repeats,
        "runs_s": times,
        "median_s": {name: statistics.median(values) for name, values in times.items()},
    }


def show(result: dict) -> None:
    rows = [
        [name, f"{result['median_s'][name]:.2f}", runs(times)] for name, times in result["runs_s"].items()
    ]
    print_table(
        f"rnnlab-train wall time, median of {result['repeats']}", ["command", "median s", "each run"], rows
    )
    medians = result["median_s"]
    print(f"--help {medians['--help']:.2f} s, --cfg job {medians['--cfg job']:.2f} s (bar < 1.0 s)")
