"""pruning: the sine_optuna search (hparams_search=sine_optuna, TPE, seed 42) with the same
number of trials without a pruner and with ``hydra.sweeper.pruner=median`` (after 5 trials,
past 2 warm-up epochs), run one after the other; the training time of each (the sum of its
trials' durations in the study, start-up between trials left out), the wall time of each
whole command, the best value and the ratios. With ``--repeats`` below 20 it runs that many
trials a search (the default is the search's 20)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rnnlab.bench.common import print_table, rnnlab_train, run_timed

REPEATS = 20  # trials a search


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
    }
    result: dict = {"trials": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        for name, settings in pruners.items():
            sweep = Path(tmp) / name
            wall = run_timed([*common, *settings, f"hydra.sweep.dir={sweep}"])
            result[name] = {**_study(sweep), "wall_s": wall}
    none, median = result["none"], result["median"]
    result["training_ratio"] = none["training_s"] / median["training_s"]
    result["best_ratio"] = median["best_value"] / none["best_value"]
    return result


def show(result: dict) -> None:
    rows = [
        [name, str(r["pruned"]), f"{r['training_s']:.0f}", f"{r['wall_s']:.0f}", f"{r['best_value']:.5f}"]
        for name, r in ((n, result[n]) for n in ("none", "median"))
    ]
    print_table(
        f"sine_optuna, {result['trials']} trials a search",
        ["pruner", "pruned", "training s", "wall s", "best val/loss_best"],
        rows,
    )
    print(
        f"training time none/median: {result['training_ratio']:.2f}x; "
        f"best value median/none: {result['best_ratio']:.3f}"
    )
