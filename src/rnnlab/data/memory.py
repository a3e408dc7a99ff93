"""Memory benchmarks: synthetic tasks whose answer needs information from far back,
generated from a seed (no download), each scored beside what a model without memory gets.

    adding          two channels, values and two markers; the target is the sum of the two
                    marked values (Hochreiter & Schmidhuber 1997; as in the TCN paper)
    copy            10 symbols, a delay of blanks, a delimiter; then output the 10 symbols
                    (Arjovsky et al. 2016)
    selective_copy  k data tokens at random places among noise, then k markers: output the
                    data tokens in order (Gu & Dao 2023)
    mqar            key-value pairs, then the keys again as queries: output each key's value
                    (multi-query associative recall; Arora et al. 2023, Zoology)
    parity          is the number of ones odd? trained on short bit strings, tested on longer
                    (length generalization, as in Deletang et al. 2023 and the xLSTM paper)

Train, val and test (and parity's test_extrapolate) are drawn from their own random
streams, ``numpy.random.default_rng([seed, split])``, and a sequence an earlier split holds
is drawn again, so no split repeats another's sequences. Each task's ``baselines`` are
what a model without memory scores on each split, computed exactly; the task module logs
them beside the model's metrics as ``<split>/baseline_<metric>``.

Token tasks mark the positions without an answer with ``IGNORE`` (-100, the
``ignore_index`` of PyTorch's cross-entropy): only answers are scored, except in copy,
which scores every position as the paper does (the blanks before the answer included).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from rnnlab.data.base import BatchSize, InMemoryDataModule, Seed, Workers
from rnnlab.data.spec import TaskSpec
from rnnlab.data.windowing import TensorBatches
from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError

IGNORE = -100
Encoding = Annotated[
    Literal["embedding", "one_hot"], Field(description="tokens in through a learned embedding, or one-hot")
]


class GeneratedDataModule(InMemoryDataModule, abc.ABC):
    """A memory task: ``generate(rng, size, split)`` makes one split's (inputs, targets),
    ``baselines(split, inputs, targets)`` scores the memoryless guess on it."""

    objective: str
    test_splits: tuple[str, ...] = ("test",)

    @declared
    def __init__(
        self,
        train_size: Annotated[int, Field(ge=1, description="sequences in the train split")] = 10000,
        val_size: Annotated[int, Field(ge=1, description="sequences in the val split")] = 1000,
        test_size: Annotated[int, Field(ge=1, description="sequences in each test split")] = 1000,
        batch_size: BatchSize = 64,
        seed: Seed = 0,
        num_workers: Workers = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.sizes = {"train": train_size, "val": val_size, **dict.fromkeys(self.test_splits, test_size)}
        self.split_baselines: dict[str, dict[str, float]] = {}

    # the settings that give the task more distinct sequences (named when it runs out of them)
    grows: tuple[str, ...] = ()
    size_setting = "train_size"

    def planned_bytes(self) -> int:
        """Every split's sequences, from one generated sequence of each (its inputs and
        targets) times the split's size."""
        total = 0
        for split, size in self.sizes.items():
            inputs, targets = self.generate(np.random.default_rng(0), 1, split)
            total += size * (
                inputs.numel() * inputs.element_size() + targets.numel() * targets.element_size()
            )
        return total

    @abc.abstractmethod
    def generate(self, rng: np.random.Generator, size: int, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` sequences of ``split``: inputs and targets, drawn from ``rng`` alone."""

    @abc.abstractmethod
    def baselines(self, split: str, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """What a model without memory scores on the split, per metric (splits come in
        order: train first)."""

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        datasets, seen = {}, set()
        for index, (split, size) in enumerate(self.sizes.items()):
            inputs, targets = self._unseen(np.random.default_rng([self.seed, index]), size, split, seen)
            seen.update(row.tobytes() for row in inputs.numpy())
            datasets[split] = TensorBatches(inputs, targets)
            self.split_baselines[split] = self.baselines(split, inputs, targets)
        self.datasets = datasets

    def _unseen(self, rng, size: int, split: str, seen: set) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` sequences none of which an earlier split holds: drawn, the repeats left
        out, and more drawn until there are enough (with the default sizes nothing repeats;
        a small task, short parity strings or few copy symbols, can run out of new ones)."""
        kept_inputs, kept_targets, count = [], [], 0
        for _ in range(20):
            inputs, targets = self.generate(rng, size, split)
            new = torch.tensor([row.tobytes() not in seen for row in inputs.numpy()], dtype=torch.bool)
            kept_inputs.append(inputs[new])
            kept_targets.append(targets[new])
            count += int(new.sum())
            if count >= size:
                return torch.cat(kept_inputs)[:size], torch.cat(kept_targets)[:size]
        distinct = len({row.tobytes() for row in torch.cat(kept_inputs).numpy()})
        larger = " or ".join(f"data.{name}" for name in self.grows)
        if distinct == 0:  # the earlier splits hold every sequence this task makes
            first = self.grows[0]
            raise ConfigError(
                first,
                f"larger (or data.train_size smaller): the earlier splits hold every sequence this "
                f"task makes, none is left for the {split} split; raise {larger}",
                getattr(self, first, None),
            )
        raise ConfigError(
            f"{split.split('_')[0]}_size",
            f"smaller, or the task larger (raise {larger}): 20 draws of {size} made {count} "
            f"{split} sequences beyond the earlier splits', {distinct} of them distinct",
            size,
        )

    def spec_for(self, input_size: int, output_size: int, **facts) -> TaskSpec:
        return TaskSpec(
            objective=self.objective,
            input_size=input_size,
            output_size=output_size,
            test_splits=self.test_splits,
            baselines={split: dict(values) for split, values in self.split_baselines.items()},
            **facts,
        )


def _positions(rng: np.random.Generator, size: int, length: int, count: int) -> np.ndarray:
    """``count`` distinct positions below ``length`` for each of ``size`` rows, ascending."""
    return np.sort(np.argsort(rng.random((size, length)), axis=1)[:, :count], axis=1)


class AddingDataModule(GeneratedDataModule):
    """Inputs (length, 2): a value uniform in [0, 1] and a marker that is 1 at two random
    steps; the target is the sum of the two marked values. The memoryless baseline always
    predicts 1, the mean of the sum (MSE 1/6 = 0.167 in expectation)."""

    grows = ("length",)

    objective = "value"

    @declared
    def __init__(
        self, length: Annotated[int, Field(ge=2, description="steps per sequence")] = 100, **sizes
    ) -> None:
        super().__init__(**sizes)
        self.length = length

    def generate(self, rng, size, split):
        values = rng.random((size, self.length))
        markers = np.zeros((size, self.length))
        np.put_along_axis(markers, _positions(rng, size, self.length, 2), 1.0, axis=1)
        inputs = torch.from_numpy(np.stack([values, markers], axis=-1)).float()
        targets = torch.from_numpy((values * markers).sum(axis=1, keepdims=True)).float()
        return inputs, targets

    def baselines(self, split, inputs, targets):
        return {"mse": float(((targets - 1.0) ** 2).mean())}

    def task_spec(self) -> TaskSpec:
        return self.spec_for(input_size=2, output_size=1)


class TokenDataModule(GeneratedDataModule):
    """A memory task over token ids: inputs (size, steps) read through an embedding or as
    one-hot vectors, targets (size, steps) with ``IGNORE`` where nothing is scored."""

    objective = "tokens"

    def __init__(self, vocab_size: int, input_encoding: Encoding, **sizes) -> None:
        super().__init__(**sizes)
        self.vocab_size = vocab_size
        self.input_encoding = input_encoding

    def uniform_guess(self, choices: int, targets: torch.Tensor) -> dict[str, float]:
        """A memoryless model's best at answers drawn uniformly from ``choices`` tokens:
        cross-entropy ln(choices), accuracy 1/choices, and every answer of a sequence right
        with probability (1/choices)^answers."""
        answers = int((targets[0] != IGNORE).sum())
        return {"loss": math.log(choices), "acc": 1 / choices, "seq_acc": choices**-answers}

    def task_spec(self) -> TaskSpec:
        return self.spec_for(
            input_size=self.vocab_size, output_size=self.vocab_size, input_encoding=self.input_encoding
        )


class CopyDataModule(TokenDataModule):
    """``symbols`` tokens drawn from 1..``alphabet``, ``delay`` - 1 blanks (0), the delimiter
    (``alphabet`` + 1), then ``symbols`` blanks during which the model must output the
    symbols: ``delay`` + 2 ``symbols`` steps. Every step is scored (blanks until the answer),
    as Arjovsky et al. score it, so the memoryless baseline, blanks then a uniform guess, is
    ``symbols`` ln(``alphabet``) / (``delay`` + 2 ``symbols``)."""

    grows = ("symbols", "alphabet")

    @declared
    def __init__(
        self,
        delay: Annotated[int, Field(ge=1, description="steps from the last symbol to the delimiter")] = 100,
        symbols: Annotated[int, Field(ge=1, description="symbols to remember")] = 10,
        alphabet: Annotated[int, Field(ge=2, description="distinct symbols")] = 8,
        input_encoding: Encoding = "embedding",
        **sizes,
    ) -> None:
        self.delay, self.symbols, self.alphabet = delay, symbols, alphabet
        super().__init__(alphabet + 2, input_encoding, **sizes)

    def generate(self, rng, size, split):
        steps, delimiter = self.delay + 2 * self.symbols, self.alphabet + 1
        data = rng.integers(1, self.alphabet + 1, (size, self.symbols))
        inputs = np.zeros((size, steps), dtype=np.int64)
        inputs[:, : self.symbols] = data
        inputs[:, self.symbols + self.delay - 1] = delimiter
        targets = np.zeros((size, steps), dtype=np.int64)
        targets[:, -self.symbols :] = data
        return torch.from_numpy(inputs), torch.from_numpy(targets)

    def baselines(self, split, inputs, targets):
        steps, answers = targets.shape[1], self.symbols
        return {
            "loss": answers * math.log(self.alphabet) / steps,
            "acc": (steps - answers + answers / self.alphabet) / steps,
            "seq_acc": self.alphabet**-answers,
        }


class SelectiveCopyDataModule(TokenDataModule):
    """``tokens`` data tokens (1..``vocab_size`` - 2) at random places among ``length``
    steps of noise (0), then ``tokens`` markers (``vocab_size`` - 1) at which the model must
    output the data tokens in order: ``length`` + ``tokens`` steps, the answers scored."""

    grows = ("vocab_size", "tokens")

    @declared
    def __init__(
        self,
        length: Annotated[int, Field(ge=1, description="noise steps among which the tokens lie")] = 256,
        tokens: Annotated[int, Field(ge=1, description="tokens to select and recall")] = 16,
        vocab_size: Annotated[
            int, Field(ge=3, description="token ids: noise, a marker and at least one data token")
        ] = 16,
        input_encoding: Encoding = "embedding",
        **sizes,
    ) -> None:
        self.length, self.tokens = length, tokens
        if tokens > length:
            raise ConfigError(
                "tokens", f"at most data.length ({length}): they are placed among its steps", tokens
            )
        super().__init__(vocab_size, input_encoding, **sizes)

    def generate(self, rng, size, split):
        data = rng.integers(1, self.vocab_size - 1, (size, self.tokens))
        inputs = np.zeros((size, self.length + self.tokens), dtype=np.int64)
        np.put_along_axis(inputs, _positions(rng, size, self.length, self.tokens), data, axis=1)
        inputs[:, self.length :] = self.vocab_size - 1
        targets = np.full_like(inputs, IGNORE)
        targets[:, self.length :] = data
        return torch.from_numpy(inputs), torch.from_numpy(targets)

    def baselines(self, split, inputs, targets):
        return self.uniform_guess(self.vocab_size - 2, targets)


class MQARDataModule(TokenDataModule):
    """Multi-query associative recall: ``pairs`` keys (distinct, from 1..``vocab_size``/2 - 1)
    each followed by its value (from the upper half of the vocabulary), then the rest of
    the ``length`` steps noise (0) with every key asked once, in random order at random
    steps; the model must output the key's value at each query, the steps scored (Zoology's
    layout, with every key queried)."""

    grows = ("vocab_size", "pairs")

    @declared
    def __init__(
        self,
        length: Annotated[int, Field(ge=3, description="steps per sequence (>= 3 pairs)")] = 64,
        pairs: Annotated[int, Field(ge=1, description="key-value pairs to recall")] = 8,
        vocab_size: Annotated[
            int, Field(ge=4, description="token ids: keys the lower half, values the upper")
        ] = 128,
        input_encoding: Encoding = "embedding",
        **sizes,
    ) -> None:
        self.pairs = pairs
        self.keys = vocab_size // 2 - 1
        if pairs > self.keys:
            raise ConfigError(
                "pairs",
                f"at most {self.keys} for data.vocab_size {vocab_size} (distinct keys from its lower half)",
                pairs,
            )
        if length < 3 * pairs:  # the pairs, then a query of each key with room for its answer
            raise ConfigError("length", f"an integer >= {3 * pairs}", length)
        self.length = length
        super().__init__(vocab_size, input_encoding, **sizes)

    def generate(self, rng, size, split):
        first_value = self.vocab_size // 2
        keys = np.argsort(rng.random((size, self.keys)), axis=1)[:, : self.pairs] + 1
        values = rng.integers(first_value, self.vocab_size, (size, self.pairs))
        inputs = np.zeros((size, self.length), dtype=np.int64)
        inputs[:, 0 : 2 * self.pairs : 2], inputs[:, 1 : 2 * self.pairs : 2] = keys, values
        asked = np.argsort(rng.random((size, self.pairs)), axis=1)  # which pair each query asks
        where = 2 * self.pairs + _positions(rng, size, self.length - 2 * self.pairs, self.pairs)
        np.put_along_axis(inputs, where, np.take_along_axis(keys, asked, axis=1), axis=1)
        targets = np.full_like(inputs, IGNORE)
        np.put_along_axis(targets, where, np.take_along_axis(values, asked, axis=1), axis=1)
        return torch.from_numpy(inputs), torch.from_numpy(targets)

    def baselines(self, split, inputs, targets):
        return self.uniform_guess(self.vocab_size - self.vocab_size // 2, targets)


Lengths = Annotated[
    Sequence[int],
    Field(
        description="[shortest, longest] bit strings",
        json_schema_extra={"allowed": "[shortest, longest] with integers 1 <= shortest <= longest"},
    ),
]


def _check_lengths(setting: str, value: Sequence[int]) -> tuple[int, int]:
    if (
        len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
        or not 1 <= value[0] <= value[1]
    ):
        raise ConfigError(setting, "[shortest, longest] with integers 1 <= shortest <= longest", list(value))
    return int(value[0]), int(value[1])


class ParityDataModule(GeneratedDataModule):
    """Bit strings of a length drawn uniformly from ``train_lengths`` (train, val, test) or
    ``extrapolate_lengths`` (test_extrapolate), inclusive; the label is 1 when the number of
    ones is odd. A string is stored left-padded with zeros to its split's longest length,
    which leaves its parity unchanged: a batch is one tensor, and the model reads the
    string's bits last. The baseline is the majority class of the train split."""

    grows = ("train_lengths",)

    objective = "classification"
    test_splits = ("test", "test_extrapolate")

    @declared
    def __init__(
        self,
        train_lengths: Lengths = (3, 40),
        extrapolate_lengths: Lengths = (40, 256),
        **sizes,
    ) -> None:
        super().__init__(**sizes)
        self.lengths = {
            "train": _check_lengths("train_lengths", train_lengths),
            "extrapolate": _check_lengths("extrapolate_lengths", extrapolate_lengths),
        }

    def generate(self, rng, size, split):
        shortest, longest = self.lengths["extrapolate" if split == "test_extrapolate" else "train"]
        lengths = rng.integers(shortest, longest + 1, size)
        bits = rng.integers(0, 2, (size, longest)) * (np.arange(longest) >= longest - lengths[:, None])
        inputs = torch.from_numpy(bits[..., None]).float()
        return inputs, torch.from_numpy(bits.sum(axis=1) % 2)

    def baselines(self, split, inputs, targets):
        # the train split is generated first, so its majority class is known here
        if split == "train":
            self.majority = int(targets.float().mean() > 0.5)
        return {"acc": float((targets == self.majority).float().mean())}

    def task_spec(self) -> TaskSpec:
        return self.spec_for(input_size=1, output_size=2)
