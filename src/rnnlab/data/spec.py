"""What a data module tells the model builder: the only link between data/ and tasks/."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    """Sizes and facts a LightningModule needs to be built for a task.

    objective: "regression" (real-valued targets) or "language" (next-token ids).
    target_mean / target_std: the train-split scaler, so metrics can be reported in the
    series' original units. season: the known period in steps, for the seasonal naive baseline.
    rollout_steps: how many steps the test targets hold, for the autoregressive rollout.
    """

    objective: str
    input_size: int
    output_size: int
    target_mean: float = 0.0
    target_std: float = 1.0
    season: int | None = None
    rollout_steps: int | None = None
