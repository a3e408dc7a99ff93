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

import numpy as np
import torch

from rnnlab.data.base import InMemoryDataModule
from rnnlab.data.spec import TaskSpec
from rnnlab.data.windowing import TensorBatches
from rnnlab.errors import ConfigError, check_choice, check_int

IGNORE = -100
ENCODINGS = ("embedding", "one_hot")


class GeneratedDataModule(InMemoryDataModule, abc.ABC):
    """A memory task: ``generate(rng, size, split)`` makes one split's (inputs, targets),
    ``baselines(split, inputs, targets)`` scores the memoryless guess on it."""

    objective: str
    test_splits: tuple[str, ...] = ("test",)

    def __init__(
        self,
        train_size: int,
        val_size: int,
        test_size: int,
        batch_size: int,
        seed: int | None,
        num_workers: int,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        self.sizes = {
            "train": check_int("train_size", train_size, 1),
            "val": check_int("val_size", val_size, 1),
            **{name: check_int("test_size", test_size, 1) for name in self.test_splits},
        }
        self.split_baselines: dict[str, dict[str, float]] = {}

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
        raise ConfigError(
            f"{split.split('_')[0]}_size",
            f"small enough for this task to make {size} {split} sequences unlike the earlier splits'",
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

    objective = "value"

    def __init__(
        self,
        length: int = 100,
        train_size: int = 10000,
        val_size: int = 1000,
        test_size: int = 1000,
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(train_size, val_size, test_size, batch_size, seed, num_workers)
        self.length = check_int("length", length, 2)

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

    def __init__(self, vocab_size: int, input_encoding: str, **sizes) -> None:
        super().__init__(**sizes)
        self.vocab_size = vocab_size
        self.input_encoding = check_choice("input_encoding", input_encoding, ENCODINGS)

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

    def __init__(
        self,
        delay: int = 100,
        symbols: int = 10,
        alphabet: int = 8,
        input_encoding: str = "embedding",
        train_size: int = 10000,
        val_size: int = 1000,
        test_size: int = 1000,
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        self.delay = check_int("delay", delay, 1)
        self.symbols = check_int("symbols", symbols, 1)
        self.alphabet = check_int("alphabet", alphabet, 2)
        super().__init__(
            alphabet + 2, input_encoding, train_size=train_size, val_size=val_size, test_size=test_size,
            batch_size=batch_size, seed=seed, num_workers=num_workers,
        )  # fmt: skip

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

    def __init__(
        self,
        length: int = 256,
        tokens: int = 16,
        vocab_size: int = 16,
        input_encoding: str = "embedding",
        train_size: int = 10000,
        val_size: int = 1000,
        test_size: int = 1000,
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        check_int("vocab_size", vocab_size, 3)  # noise, a marker and at least one data token
        self.length = check_int("length", length, 1)
        self.tokens = check_int("tokens", tokens, 1)
        if tokens > length:
            raise ConfigError(
                "tokens", f"at most data.length ({length}): they are placed among its steps", tokens
            )
        super().__init__(
            vocab_size, input_encoding, train_size=train_size, val_size=val_size, test_size=test_size,
            batch_size=batch_size, seed=seed, num_workers=num_workers,
        )  # fmt: skip

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

    def __init__(
        self,
        length: int = 64,
        pairs: int = 8,
        vocab_size: int = 128,
        input_encoding: str = "embedding",
        train_size: int = 10000,
        val_size: int = 1000,
        test_size: int = 1000,
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        check_int("vocab_size", vocab_size, 4)
        self.pairs = check_int("pairs", pairs, 1)
        self.keys = vocab_size // 2 - 1
        if pairs > self.keys:
            raise ConfigError(
                "pairs",
                f"at most {self.keys} for data.vocab_size {vocab_size} (distinct keys from its lower half)",
                pairs,
            )
        self.length = check_int("length", length, 3 * pairs)
        super().__init__(
            vocab_size, input_encoding, train_size=train_size, val_size=val_size, test_size=test_size,
            batch_size=batch_size, seed=seed, num_workers=num_workers,
        )  # fmt: skip

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

    objective = "classification"
    test_splits = ("test", "test_extrapolate")

    def __init__(
        self,
        train_lengths: Sequence[int] = (3, 40),
        extrapolate_lengths: Sequence[int] = (40, 256),
        train_size: int = 10000,
        val_size: int = 1000,
        test_size: int = 1000,
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(train_size, val_size, test_size, batch_size, seed, num_workers)
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
