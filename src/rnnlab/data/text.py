"""Character-level text: next-character modeling over any UTF-8 file, or a built-in corpus.

The built-in corpus needs no download: the help texts of Python's own ``pydoc_data``
(the "topics" printed by ``help('assert')`` and friends), about 465k characters of English
prose and code from the standard library of the Python running rnnlab.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.base import BatchSize, Seed, Workers
from rnnlab.data.files import read_utf8
from rnnlab.data.spec import TaskSpec, Vocabulary
from rnnlab.data.windowing import (
    SPLITS,
    InMemoryLoader,
    StridedShuffle,
    batch_loader,
    check_fits,
    data_seed,
    own_generator,
    split_bounds,
)
from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError

log = logging.getLogger(__name__)


def builtin_corpus() -> str:
    """Python's pydoc topics, joined in a fixed (sorted) order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


class TokenWindows(Dataset):
    """Windows of ``window`` token ids starting at ``starts``; targets are shifted by one.

    ``__getitems__`` gathers a whole batch with one indexing op over the in-memory ids.
    """

    def __init__(self, ids: torch.Tensor, starts: torch.Tensor, window: int) -> None:
        self.starts = starts
        # every run of window + 1 ids as a strided view (no copy); a batch is one
        # index_select of whole rows, much faster than gathering id by id (docs/benchmarks.md, loader)
        self.windows = ids.unfold(0, window + 1, 1)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitems__(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        chunk = self.windows.index_select(0, self.starts[torch.as_tensor(indices)])
        return chunk[:, :-1], chunk[:, 1:]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]


class StreamBatches(Dataset):
    """Truncated BPTT batches: the text cut into ``batch_size`` contiguous streams (rows),
    served ``window`` columns at a time, in order, so batch i+1 continues batch i row by row."""

    def __init__(self, ids: torch.Tensor, batch_size: int, window: int) -> None:
        per_row = (len(ids) - 1) // batch_size
        self.inputs = ids[: batch_size * per_row].reshape(batch_size, per_row)
        self.targets = ids[1 : batch_size * per_row + 1].reshape(batch_size, per_row)
        self.window = window

    def __len__(self) -> int:
        return self.inputs.shape[1] // self.window

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        columns = slice(index * self.window, (index + 1) * self.window)
        return self.inputs[:, columns], self.targets[:, columns]


class CharTextDataModule(L.LightningDataModule):
    """Next-character prediction over one text, split by position into train / val / test.

    The vocabulary is built from the train split, plus <unk> (id 0) for characters only
    the other splits hold. Training batches are windows of ``window`` characters that tile
    the train split once per epoch from a random phase, in random order, or with
    ``stateful`` contiguous streams for truncated backpropagation through time. Validation
    and test windows tile their split in order.
    """

    @declared
    def __init__(
        self,
        path: Annotated[str | None, Field(description="a UTF-8 text file (null: built in)")] = None,
        text: Annotated[str | None, Field(description="the text itself, instead of a file")] = None,
        window: Annotated[int, Field(ge=1, description="characters per training window")] = 128,
        batch_size: BatchSize = 64,
        splits: Annotated[
            Sequence[float] | None,
            Field(
                description="train, val, test fractions in order (null: all three the whole text)",
                json_schema_extra={"allowed": "three fractions that sum to 1, or null"},
            ),
        ] = (0.9, 0.05, 0.05),
        one_hot: Annotated[bool, Field(description="one-hot inputs, not an embedding")] = False,
        stateful: Annotated[
            bool, Field(description="contiguous streams whose state is carried across batches (TBPTT)")
        ] = False,
        num_workers: Workers = 0,
        seed: Seed = 0,
        seq_len: Annotated[int | None, Field(description="window's old name")] = None,
    ) -> None:
        super().__init__()
        if seq_len is not None:  # the old name, still in configs stored by earlier runs
            log.warning("data.seq_len is the old name of data.window; read as data.window=%s", seq_len)
            window = seq_len
        if path is not None and text is not None:
            raise ConfigError("text", "null when data.path is set (one source of text at a time)")
        self.path = None if path is None else Path(path).expanduser()
        self.text = text
        self.window = window
        self.batch_size = batch_size
        self.splits = None if splits is None else tuple(float(f) for f in splits)
        if self.splits is not None:
            split_bounds(100, self.splits)
        self.one_hot = bool(one_hot)
        self.stateful = bool(stateful)
        self.num_workers = num_workers
        self.seed = data_seed(seed)
        self.vocab: Vocabulary | None = None
        self.ids: dict[str, torch.Tensor] = {}

    def load_text(self) -> str:
        if self.path is not None:
            return read_utf8(self.path, "text")
        if self.text is not None:
            if not self.text:
                raise ConfigError("text", "a non-empty string", "")
            return self.text
        return builtin_corpus()

    size_setting = "path"

    def planned_bytes(self) -> int | None:
        """The characters as ids (8 bytes each; the windows are views of them) and as text."""
        if self.path is not None:
            return self.path.stat().st_size * 12 if self.path.is_file() else None
        return len(self.text) * 12 if self.text is not None else None

    def setup(self, stage: str | None = None) -> None:
        if self.ids:
            return
        text = self.load_text()
        if self.splits is None:  # toy corpora: train, validate and test on the whole text
            parts = dict.fromkeys(SPLITS, text)
        else:
            bounds = split_bounds(len(text), self.splits)
            parts = {name: text[start:stop] for name, (start, stop) in zip(SPLITS, bounds, strict=True)}
        self.vocab = Vocabulary.from_text(parts["train"])
        rows = self.batch_size if self.stateful else 1
        present = [name for name in SPLITS if name != "test" or parts[name]]  # test may be empty
        if self.splits is not None:  # each split needs at least rows windows of 1 (+ 1) characters
            needs = [rows + 1 if name in present else 0 for name in SPLITS]
            check_fits("path" if self.path else "text", "a text", "characters", len(text), self.splits, needs)
        name = min(present, key=lambda split: len(parts[split]))
        most = (len(parts[name]) - 1) // rows
        if most < 1:  # splits null: every split is the whole text
            raise ConfigError("text", f"at least {rows + 1} characters", f"{len(text)} characters")
        if self.window > most:
            fit = f"{rows} streams of window + 1 characters fit " if self.stateful else "a window fits "
            raise ConfigError(
                "window",
                f"<= {most} so that {fit}the {name} split of {len(parts[name])} characters",
                self.window,
            )
        for name in present:
            self.ids[name] = torch.tensor(self.vocab.encode(parts[name]), dtype=torch.long)

    @property
    def spec(self) -> TaskSpec:
        if self.vocab is None:
            raise RuntimeError("call setup() before reading spec")
        return TaskSpec(
            objective="language",
            input_size=len(self.vocab),
            output_size=len(self.vocab),
            vocab=self.vocab.chars,
            input_encoding="one_hot" if self.one_hot else "embedding",
            stateful=self.stateful,
            test_splits=("test",) if "test" in self.ids else (),  # splits [..., ..., 0]: none
        )

    def _loader(self, split: str) -> DataLoader:
        ids = self.ids[split]
        if self.stateful:
            if self.trainer is not None and self.trainer.world_size > 1:
                raise ConfigError(
                    "data.stateful", "false under DDP (each stream must stay in one process)", True
                )
            return InMemoryLoader(
                StreamBatches(ids, self.batch_size, self.window),
                batch_size=None,
                num_workers=self.num_workers,
                generator=own_generator(self.seed),
            )
        if split == "train":  # any start; an epoch's windows tile the split from a random phase
            windows = TokenWindows(ids, torch.arange(len(ids) - self.window), self.window)
            tiling = StridedShuffle(len(windows), self.window, self.seed)
            return batch_loader(windows, self.batch_size, True, self.num_workers, sampler=tiling)
        windows = TokenWindows(ids, torch.arange(0, len(ids) - self.window, self.window), self.window)
        return batch_loader(windows, self.batch_size, False, self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        if "test" not in self.ids:
            allowed = "a test fraction > 0 to test (or run with test=false)"
            raise ConfigError("splits", allowed, list(self.splits))
        return self._loader("test")
