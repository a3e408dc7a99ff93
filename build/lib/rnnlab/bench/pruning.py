"""pruning: the sine_optuna search (hparams_search=sine_optuna, TPE, seed 42) with the same
number of trials without a pruner, with ``hydra.sweeper.pruner=median`` (after 5 trials, past
2 warm-up epochs) and with ``hydra.sweeper.pruner=hyperband`` (brackets from 1 epoch), run
one after the other; the training time of each (the sum of its trials' durations in the
study, start-up between trials left out), the wall time of each whole command, the best
value, and each pruner's ratios against no pruner. With ``--repeats`` it runs that many
trials a search (the default is the search's 20)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rnnlab.bench.common import print_table, rnnlab_train, run_timed

REPEATS = 20  # trials a search
PRUNERS = ("median", "hyperband")


def _study(sweep: Path) -> dict:
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="sine", storage=f"sqlite:///{sweep / 'optuna.db'}")
    trials = [t for t in study.trials if t.datetime_complete is not None]
    return {
        "trials": len(trials),
        "pruned": len([t for t in trials if t.state == TrialState.PRUNED]),
        "training_s": sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials),
        "best_value": study.best_value,
        "best_params": study.best_params,
    }


def measure(repeats: int, overrides: tuple[str, ...] = ()) -> dict:
    """``overrides`` go to both searches (the test runs a small one)."""
    common = [rnnlab_train(), "-m", "hparams_search=sine_optuna", "callbacks.rich_progress_bar=null"]
    common += [f"hydra.sweeper.n_trials={repeats}", *overrides]
    pruners = {
        "none": ["hydra.sweeper.pruner=null"],
        "median": ["hydra.sweeper.pruner=median", "hydra.sweeper.warmup_epochs=2"],
        # its least resource 1 epoch (warmup_epochs 0): with 2 it pruned later and saved less
        "hyperband": ["hydra.sweeper.pruner=hyperband"],
    }
    result: dict = {"trials": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        for name, settings in pruners.items():
            sweep = Path(tmp) / name
            wall = run_timed([*common, *settings, f"hydra.sweep.dir={sweep}"])
            result[name] = {**_study(sweep), "wall_s": wall}
    none = result["none"]
    for name in PRUNERS:
        # training_ratio above 1: the pruner saved time; best_ratio above 1: its best is worse
        result[name]["training_ratio"] = none["training_s"] / result[name]["training_s"]
        result[name]["best_ratio"] = result[name]["best_value"] / none["best_value"]
    return result


def show(result: dict) -> None:
    rows = []
    for name in ("none", *PRUNERS):
        r = result[name]
        rows.append([name, str(r["pruned"]), f"{r['training_s']:.0f}", f"{r['wall_s']:.0f}"])
        rows[-1] += [f"{r['best_value']:.5f}", f"{r.get('training_ratio', 1.0):.2f}x"]
        rows[-1] += [f"{r.get('best_ratio', 1.0):.3f}"]
    print_table(
        f"sine_optuna, {result['trials']} trials a search, best: val/loss_best",
        ["pruner", "pruned", "training s", "wall s", "best", "none/this time", "this/none best"],
        rows,
    )
