"""Measure the learning tests' figures over seeds: what their bounds are set from.

    python scripts/learning_seeds.py --seeds 0 1 2 [--out figures.jsonl] [-k EXPR]

Runs every learning test (the slow ones too) once per seed (RNNLAB_TEST_SEED), each
recording its figures through the ``figure`` fixture (tests/conftest.py), then prints each
figure's value per seed and the worst: a bound must hold beyond the worst with margin, as
another CPU rounds differently. A test that fails at a seed is listed with its figures too.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEARNING = [
    "tests/tasks/test_regression.py::test_the_sine_task_is_learned_far_better_than_naive",
    "tests/tasks/test_regression.py::test_every_model_family_learns_the_sine_task",
    "tests/tasks/test_supervised.py::test_an_lstm_solves_the_adding_problem_at_length_30",
    "tests/tasks/test_supervised.py::test_the_tanh_rnn_stays_at_the_baseline_on_a_long_adding_problem",
    "tests/tasks/test_supervised.py::test_a_gru_learns_parity_and_keeps_it_on_longer_strings",
    "tests/tasks/test_supervised.py::test_an_lstm_learns_which_value_belongs_to_each_key",
    "tests/tasks/test_language.py::test_a_small_lstm_learns_text_far_below_the_unigram_entropy",
    "tests/tasks/test_forecasting.py::test_the_80_percent_interval_covers_80_percent_of_a_series_with_known_noise",
    "tests/tasks/test_forecasting.py::test_a_temperature_covariate_lowers_the_load_forecast_error",
    "tests/cli/test_train.py::test_default_run_beats_the_naive_forecast_tenfold",
    "tests/cli/test_train.py::test_every_model_family_learns_the_text_tutorial_and_samples_from_it",
    "tests/cli/test_train.py::test_text_shakespeare_recipe_learns_on_a_slice",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "learning_figures.jsonl")
    parser.add_argument("-k", default=None, help="pytest -k: only the tests it selects")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        env = {**os.environ, "RNNLAB_TEST_SEED": str(seed), "RNNLAB_FIGURES": str(args.out)}
        command = [sys.executable, "-m", "pytest", "-q", "-m", "slow or not slow", "-p", "no:cacheprovider"]
        command += [*LEARNING, *(["-k", args.k] if args.k else [])]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-500:]
        print(f"seed {seed}: {summary}")
    show(args.out)


def show(path: Path) -> None:
    """Each figure's value per seed, and the worst (the largest for an upper bound is not
    known here: both ends are shown)."""
    values: dict[tuple[str, str], dict[int, float]] = collections.defaultdict(dict)
    for line in path.read_text().splitlines():
        row = json.loads(line)
        values[(row["test"], row["figure"])][row["seed"]] = row["value"]
    for (test, figure), by_seed in sorted(values.items()):
        seeds = " ".join(f"{seed}:{value:.4g}" for seed, value in sorted(by_seed.items()))
        low, high = min(by_seed.values()), max(by_seed.values())
        print(f"{test.split('::', 1)[1]} | {figure} | {seeds} | min {low:.4g} max {high:.4g}")


if __name__ == "__main__":
    main()
