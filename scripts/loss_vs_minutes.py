"""Print a run's validation loss against wall-clock minutes of training, from its TensorBoard events.

    .venv/bin/python scripts/loss_vs_minutes.py outputs/runs/<run> [--metric val/loss]

Minutes count from the run's first TensorBoard event (written just before training
starts, so imports and data loading are not included); each row is one validation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def loss_vs_minutes(run_dir: Path, metric: str) -> list[tuple[float, int, float]]:
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    start = events.FirstEventTimestamp()
    return [((e.wall_time - start) / 60, e.step, e.value) for e in events.Scalars(metric)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--metric", default="val/loss")
    args = parser.parse_args()
    print(f"| minutes | step | {args.metric} |\n|---|---|---|")
    for minutes, step, value in loss_vs_minutes(args.run_dir, args.metric):
        print(f"| {minutes:.1f} | {step} | {value:.4f} |")


if __name__ == "__main__":
    main()
