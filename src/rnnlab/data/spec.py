"""What a data module tells the model builder: the only link between data/ and tasks/."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class Scaling:
    """How a regression model sees values: scaled = (value - offset) / scale.

    mode "global": offset and scale are constants fitted on the train split (standardizing
    a series, or min-max for counting). mode "last": the offset is each window's last value,
    so the model sees values relative to the present (scale stays a constant), which carries
    over unchanged to values far outside the trained range.
    """

    mode: str = "global"
    offset: float = 0.0
    scale: float = 1.0

    def offsets(self, window: torch.Tensor) -> torch.Tensor:
        """Per-window offsets, shaped (batch, 1), for windows shaped (batch, time, 1)."""
        if self.mode == "last":
            return window[:, -1, :1]
        return torch.full_like(window[:, -1, :1], self.offset)

    def encode(self, values: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * (values.dim() - 1)
        return (values - offsets.reshape(shape)) / self.scale

    def decode(self, values: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * (values.dim() - 1)
        return values * self.scale + offsets.reshape(shape)


UNK = "<unk>"


@dataclass(frozen=True)
class Vocabulary:
    """Characters to token ids and back. Id 0 is <unk>, for characters unseen in training."""

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        return cls((UNK, *sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def index(self) -> dict[str, int]:
        return {char: i for i, char in enumerate(self.chars)}

    def encode(self, text: str) -> list[int]:
        index = self.index
        return [index.get(char, 0) for char in text]

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` that map to <unk>."""
        index = self.index
        return sorted({char for char in text if char not in index})

    def decode(self, ids) -> str:
        return "".join(self.chars[i] if i else "\ufffd" for i in ids)


@dataclass(frozen=True)
class TaskSpec:
    """Sizes and facts a LightningModule needs to be built for a task.

    objective: what the targets are, and so which task module trains on them (tasks/):
        "regression"      the next values of a series (forecasting)
        "language"        the next character at every step
        "value"           one real value per sequence
        "classification"  one class per sequence (output_size classes)
        "tokens"          a token at some steps, IGNORE (-100) at the others
    scaling: how regression inputs and targets are scaled for the network.
    season: the known period in steps, for the seasonal naive baseline.
    rollout_steps: how many steps the test targets hold, for the autoregressive rollout.
    integer_targets: the targets are whole numbers (adds exact-match accuracy).
    test_splits: names of the test dataloaders, in order (empty: the data has no test split).
    vocab: the characters of a language task, index = token id (index 0 is <unk>).
    input_encoding: "dense" (real features), "embedding" or "one_hot" (token ids).
    stateful: language batches are contiguous streams whose hidden state carries over.
    baselines: per split, what a model without memory scores there ({"test": {"acc": 0.5}}),
        computed by the data module on that split; logged as <split>/baseline_<metric>.
    """

    objective: str
    input_size: int
    output_size: int
    scaling: Scaling = field(default_factory=Scaling)
    season: int | None = None
    rollout_steps: int | None = None
    integer_targets: bool = False
    test_splits: tuple[str, ...] = ("test",)
    vocab: tuple[str, ...] = ()
    input_encoding: str = "dense"
    stateful: bool = False
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, so a checkpoint holding it loads with weights_only=True."""
        data = asdict(self)
        data["test_splits"] = list(self.test_splits)
        data["vocab"] = list(self.vocab)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        values = dict(data)
        values["scaling"] = Scaling(**values.get("scaling", {}))
        values["test_splits"] = tuple(values.get("test_splits", ("test",)))
        values["vocab"] = tuple(values.get("vocab", ()))
        values["baselines"] = _numbers_per_split(values.get("baselines", {}))
        return cls(**values)


def _numbers_per_split(baselines: Any) -> dict[str, dict[str, float]]:
    """``{split: {metric: number}}`` as stored, or TypeError (a checkpoint is someone's file)."""
    if not isinstance(baselines, dict) or not all(isinstance(v, dict) for v in baselines.values()):
        raise TypeError("baselines must map each split to {metric: number}")
    out = {}
    for split, metrics in baselines.items():
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in metrics.values()):
            raise TypeError(f"baselines of {split!r} must be numbers")
        out[str(split)] = {str(name): float(value) for name, value in metrics.items()}
    return out
