"""What a data module tells the model builder: the only link between data/ and tasks/."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class Scaling:
    """How a regression model sees values: scaled = (value - offset) / scale, per column.

    ``offset`` and ``scale`` hold one number per input column (a float is one column). A
    forecast's columns are the first ones of the input (the targets come first, covariates
    after), so the same numbers scale and unscale them.

    mode "global": offsets and scales are constants fitted on the train split (standardizing
    a series, or min-max for counting). mode "last": the offsets are each window's last
    values, so the model sees values relative to the present (scales stay constants), which
    carries over unchanged to values far outside the trained range.
    """

    mode: str = "global"
    offset: tuple[float, ...] = (0.0,)
    scale: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        # one number for one column, as a checkpoint of a one-column run stored it
        for name in ("offset", "scale"):
            value = getattr(self, name)
            numbers = (value,) if isinstance(value, int | float) else value
            object.__setattr__(self, name, tuple(float(v) for v in numbers))
        if len(self.offset) != len(self.scale):
            raise ValueError("a Scaling needs one offset and one scale per column")

    def offsets(self, window: torch.Tensor) -> torch.Tensor:
        """Per-window offsets, shaped (batch, columns), for windows (batch, time, columns)."""
        if self.mode == "last":
            return window[:, -1, :]
        return window.new_tensor(self.offset).expand(
            window.shape[0], -1
        )  # shape: export keeps the batch free

    def encode(self, values: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """``values`` (batch, ..., columns) on the network's scale; they may hold only the first
        columns (a forecast of the targets)."""
        offsets, scale = self._per_column(values, offsets)
        return (values - offsets) / scale

    def decode(self, values: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        offsets, scale = self._per_column(values, offsets)
        return values * scale + offsets

    def _per_column(self, values: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        columns = values.shape[-1]
        shape = (values.shape[0],) + (1,) * (values.dim() - 2) + (columns,)
        return offsets[:, :columns].reshape(shape), values.new_tensor(self.scale[:columns])


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
        computed by the data module on that split; logged as <split>/baseline_<metric>
        (forecasting: the linear autoregression's errors, logged as <split>/ar_<metric>).
    targets: the names of the regression targets, the first input columns (the rest are
        covariates: inputs only); output_size is the horizon times their number.
    window: regression: the rows of every input window (None: not fixed).
    highway: regression: whether a forecast of this data starts from the linear
        autoregression when task.highway is null (a CSV series: yes).
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
    targets: tuple[str, ...] = ("value",)
    window: int | None = None
    highway: bool = False

    def __post_init__(self) -> None:
        # a checkpoint's spec is someone's file: a forecast's sizes must agree with each other
        if self.objective == "regression" and (
            len(self.scaling.offset) != self.input_size
            or not 0 < len(self.targets) <= self.input_size
            or self.output_size % len(self.targets)
        ):
            raise ValueError(
                "a forecast's spec needs one scaling per input column, at most as many targets as "
                "columns, and an output size that is a multiple of the targets"
            )

    @property
    def horizon(self) -> int:
        """Regression: the steps each forecast runs ahead."""
        return self.output_size // len(self.targets)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, so a checkpoint holding it loads with weights_only=True."""
        data = asdict(self)
        data["test_splits"] = list(self.test_splits)
        data["vocab"] = list(self.vocab)
        data["targets"] = list(self.targets)
        data["scaling"] = {
            **data["scaling"],
            "offset": list(self.scaling.offset),
            "scale": list(self.scaling.scale),
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        values = dict(data)
        values["scaling"] = Scaling(**values.get("scaling", {}))
        values["test_splits"] = tuple(values.get("test_splits", ("test",)))
        values["vocab"] = tuple(values.get("vocab", ()))
        values["targets"] = tuple(str(name) for name in values.get("targets", ("value",)))
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
