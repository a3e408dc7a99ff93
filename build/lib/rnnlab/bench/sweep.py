"""sweep: the same 4-job sine sweep (seeds 0..3) with Hydra's basic launcher (one job after
another, each with every core) and with hydra/launcher=joblib n_jobs=2 (two jobs at once,
each with half the cores); wall time of each whole command, pairs run back to back,
medians over the repeats, and the ratio joblib / basic."""

from __future__ import annotations

import statistics
import tempfile

from rnnlab.bench.common import print_table, rnnlab_train, run_timed, runs

REPEATS = 5


def measure(repeats: int, epochs: int = 20) -> dict:
    train = rnnlab_train()
    common = ["-m", "seed=0,1,2,3", f"trainer.max_epochs={epochs}", "callbacks.rich_progress_bar=null"]
    joblib_args = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    basic, joblib = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            basic.append(run_timed([train, *common, f"hydra.sweep.dir={tmp}/basic{i}"]))
            joblib.append(run_timed([train, *common, *joblib_args, f"hydra.sweep.dir={tmp}/joblib{i}"]))
    basic_median, joblib_median = statistics.median(basic), statistics.median(joblib)
    return {
        "jobs": 4,
        "epochs": epochs,
        "repeats": repeats,
        "basic_s": basic,
        "joblib_n2_s": joblib,
        "basic_median_s": basic_median,
        "joblib_n2_median_s": joblib_median,
        "ratio": joblib_median / basic_median,
    }


def show(result: dict) -> None:
    title = f"4-job sine sweep, {result['epochs']} epochs a job, median of {result['repeats']}"
    rows = [
        [name, f"{result[f'{key}_median_s']:.1f}", runs(result[f"{key}_s"], 1)]
        for name, key in (("basic (sequential)", "basic"), ("joblib n_jobs=2", "joblib_n2"))
    ]
    print_table(title, ["launcher", "wall s (median)", "each run"], rows)
    print(f"joblib/basic: {result['ratio']:.2f}x")
