"""Shared pieces of the in-memory data path: splits, scaling, windows, whole-batch loading."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler

from rnnlab.data.spec import Scaling
from rnnlab.errors import ConfigError, check_int

SPLITS = ("train", "val", "test")


def data_seed(seed: int | None) -> int:
    """``seed``, or for ``seed: null`` (a run that asks not to be seeded) a fresh one."""
    if seed is None:
        return int.from_bytes(os.urandom(4), "little")
    return check_int("seed", seed, 0)


def split_bounds(length: int, fractions: Sequence[float]) -> list[tuple[int, int]]:
    """Contiguous [start, stop) ranges for train / val / test, in time order.

    The test fraction may be 0 (no test split, as nanoGPT splits a corpus 90 / 10)."""
    if (
        len(fractions) != 3
        or any(f <= 0 for f in fractions[:2])
        or fractions[2] < 0
        or abs(sum(fractions) - 1) > 1e-6
    ):
        raise ConfigError(
            "splits", "three fractions that sum to 1 (train and val > 0, test >= 0)", list(fractions)
        )
    train_stop = round(length * fractions[0])
    val_stop = round(length * (fractions[0] + fractions[1]))
    return [(0, train_stop), (train_stop, val_stop), (val_stop, length)]


def short_splits(length: int, fractions: Sequence[float], needs: Sequence[int]) -> list[tuple[str, int, int]]:
    """(name, size, need) of each split of a ``length``-long sequence that holds fewer than
    ``needs[i]`` items."""
    bounds = split_bounds(length, fractions)
    return [
        (name, stop - start, need)
        for name, (start, stop), need in zip(SPLITS, bounds, needs, strict=True)
        if stop - start < need
    ]


def shortest_length(fractions: Sequence[float], needs: Sequence[int]) -> int:
    """The fewest items a sequence needs for split i of ``fractions`` to hold ``needs[i]``
    (a split that needs nothing may be empty; one that needs something has a fraction > 0);
    what an error says a file must hold."""
    length = sum(needs)
    while short_splits(length, fractions, needs):
        length += 1
    return length


def check_fits(
    source: str, what: str, unit: str, length: int, fractions: Sequence[float], needs: Sequence[int]
) -> None:
    """Refuse data too short for split i to hold ``needs[i]`` items even with the smallest
    window, in one line that says how long it must be: ``data.path must be a series of at
    least 221 steps for data.splits [0.7, 0.15, 0.15]: it has 40; the test split would hold 6
    and needs at least 33``."""
    for name, fraction, need in zip(SPLITS, fractions, needs, strict=True):
        if need and fraction == 0:  # no length would do
            raise ConfigError(
                "splits", f"a {name} fraction > 0 (this task needs a {name} split)", list(fractions)
            )
    short = short_splits(length, fractions, needs)
    if not short:
        return
    name, size, need = short[0]
    raise ConfigError(
        source,
        f"{what} of at least {shortest_length(fractions, needs)} {unit} for data.splits {list(fractions)}",
        None,
        f"it has {length}; the {name} split would hold {size} and needs at least {need}",
    )


def standard_scaling(values: np.ndarray) -> Scaling:
    """Zero mean, unit variance for each column of ``values`` (time, columns), with statistics
    from ``values`` only (the train split); a constant column keeps scale 1."""
    stds = values.std(axis=0)
    return Scaling("global", tuple(values.mean(axis=0)), tuple(np.where(stds > 1e-12, stds, 1.0)))


def sliding_windows(values: np.ndarray, window: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (input, target) pairs inside ``values`` (time, columns): inputs (n, window,
    columns) and the ``horizon`` rows that follow each, (n, horizon, columns)."""
    frames = np.lib.stride_tricks.sliding_window_view(values, window + horizon, axis=0)  # (n, columns, w+h)
    frames = frames.transpose(0, 2, 1)
    inputs = torch.from_numpy(np.ascontiguousarray(frames[:, :window]))
    targets = torch.from_numpy(np.ascontiguousarray(frames[:, window:]))
    return inputs.float(), targets.float()


class TensorBatches(Dataset):
    """Tensors held in memory, fetched a whole batch at a time.

    DataLoader hands ``__getitems__`` the batch's index list, so one indexing op per tensor
    replaces per-item fetches and collation. Samplers (shuffling, DistributedSampler under
    DDP) work unchanged because this is an ordinary map-style dataset.
    """

    def __init__(self, *tensors: torch.Tensor) -> None:
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorBatches needs tensors of one common length")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices) -> tuple[torch.Tensor, ...]:
        index = torch.as_tensor(indices)
        return tuple(t.index_select(0, index) for t in self.tensors)  # cheaper than t[index]


def whole_batch(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return batch


class SeededShuffle(Sampler[int]):
    """A new random order every epoch, drawn from (seed, epoch) alone.

    Lightning calls ``set_epoch`` before each epoch, so a run resumed at epoch k sees the
    same batches as one that never stopped.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def _generator(self) -> torch.Generator:
        """This epoch's random numbers: a function of (seed, epoch) only."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)

    def order(self) -> torch.Tensor:
        """This epoch's indices, as one tensor."""
        return torch.randperm(self.size, generator=self._generator())

    def __iter__(self):
        return iter(self.order().tolist())


class StridedShuffle(SeededShuffle):
    """Indices ``phase, phase + stride, phase + 2 stride, ...`` below ``size``, shuffled, with
    the phase and the order drawn from (seed, epoch): windows ``stride`` long that tile the
    data once per epoch without overlapping, starting anywhere over the epochs. Costs a
    permutation of size / stride, not of size (a text's every start)."""

    def __init__(self, size: int, stride: int, seed: int) -> None:
        super().__init__(size, seed)
        self.stride = stride
        self.count = max(1, size // stride)  # every phase has at least this many starts

    def __len__(self) -> int:
        return self.count

    def order(self) -> torch.Tensor:
        generator = self._generator()
        phase = int(torch.randint(min(self.stride, self.size), (), generator=generator))
        starts = torch.arange(phase, self.size, self.stride)
        return starts[torch.randperm(len(starts), generator=generator)[: self.count]]


class InOrder(Sampler[int]):
    """0, 1, ..., size - 1, with ``order()`` for ``IndexBatches``."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def order(self) -> torch.Tensor:
        return torch.arange(self.size)

    def __iter__(self):
        return iter(range(self.size))


class IndexBatches(BatchSampler):
    """Batches of indices as slices of one index tensor per epoch, when the sampler can give
    its order as a tensor (``SeededShuffle``, ``StridedShuffle``, ``InOrder``): no Python int per sample, and
    ``__getitems__`` indexes with the slice as it is. Any other sampler (Lightning puts a
    DistributedSampler here under DDP, rebuilding this class around it) gets the ordinary
    list batches."""

    def __iter__(self):
        order = getattr(self.sampler, "order", None)
        if order is None:
            yield from super().__iter__()
            return
        indices = order()
        stop = len(indices) - len(indices) % self.batch_size if self.drop_last else len(indices)
        yield from indices[:stop].split(self.batch_size)


class InMemoryLoader(DataLoader):
    """A DataLoader whose batches are gathered in this process (``num_workers=0``) without
    the iterator machinery: each step is the batch sampler's next index tensor and one
    ``__getitems__`` call (docs/benchmarks.md, loader). With workers, or without a batch
    sampler, it iterates as an ordinary DataLoader. Being a DataLoader, Lightning still
    rebuilds it with a DistributedSampler under DDP and still calls ``set_epoch`` on its
    sampler.

    It resumes mid-epoch: ``state_dict`` counts the batches taken in the current pass, and
    after ``load_state_dict`` the next pass skips that many. Lightning stores the state in
    every checkpoint saved during fit and loads it only when a run restarts inside an
    epoch; it does not prefetch from a loader with a length, so a batch taken is a batch
    trained on. Skipping walks the index batches without gathering them.
    """

    taken = 0  # batches handed out in the current pass
    _skip = 0  # batches the next pass leaves out (set when resuming mid-epoch)

    def state_dict(self) -> dict[str, int]:
        return {"taken": self.taken}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._skip = int(state["taken"])

    def __iter__(self):
        skip, self._skip = self._skip, 0
        self.taken = skip
        if self.num_workers > 0 or self.batch_sampler is None:
            batches = itertools.islice(super().__iter__(), skip, None)
        else:
            indices = itertools.islice(self.batch_sampler, skip, None)
            batches = (self.collate_fn(self.dataset.__getitems__(index)) for index in indices)
        for batch in batches:
            self.taken += 1
            yield batch


def batch_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int = 0,
    seed: int = 0,
    sampler: Sampler | None = None,
) -> DataLoader:
    """A DataLoader over ``dataset`` that fetches whole batches (no per-item collate), in
    the order of ``sampler``, or shuffled by a ``SeededShuffle`` when ``shuffle`` is set, or
    in order."""
    if sampler is None:
        sampler = SeededShuffle(len(dataset), seed) if shuffle else InOrder(len(dataset))
    return InMemoryLoader(
        dataset,
        batch_sampler=IndexBatches(sampler, batch_size, drop_last=False),
        collate_fn=whole_batch,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        generator=own_generator(seed),
    )


def own_generator(seed: int) -> torch.Generator:
    """A DataLoader's own generator: every DataLoader iterator draws a base seed from it,
    which would otherwise come from the global generator that dropout draws from (a run
    resumed mid-epoch creates one iterator more than an uninterrupted one)."""
    return torch.Generator().manual_seed(seed)
