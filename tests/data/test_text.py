import itertools

import pytest
import torch

from rnnlab.data.spec import Vocabulary
from rnnlab.data.text import CharTextDataModule, builtin_corpus
from rnnlab.errors import ConfigError

TEXT = "".join(f"line {i}: the quick brown fox\n" for i in range(200))


def _module(**kwargs) -> CharTextDataModule:
    module = CharTextDataModule(**{"text": TEXT, "window": 16, "batch_size": 4, **kwargs})
    module.setup()
    return module


def test_splits_are_contiguous_by_position():
    module = _module(splits=[0.8, 0.1, 0.1])
    decoded = [module.vocab.decode(module.ids[name].tolist()) for name in ("train", "val", "test")]
    assert decoded[0] == TEXT[: round(len(TEXT) * 0.8)]
    assert "".join(decoded) == TEXT


def test_vocabulary_comes_from_train_with_unk_first():
    module = CharTextDataModule(text="abcabcabc" * 20 + "xyz" * 10, window=4, splits=[0.8, 0.1, 0.1])
    module.setup()
    assert module.vocab.chars == ("<unk>", "a", "b", "c")
    assert set(module.ids["test"].tolist()) == {0}  # x, y, z were never in train
    assert module.spec.input_size == module.spec.output_size == 4


def test_vocabulary_round_trip_and_unknowns():
    vocab = Vocabulary.from_text("hello")
    assert vocab.decode(vocab.encode("hole")) == "hole"
    assert vocab.encode("hex")[-1] == 0
    assert vocab.unknown("hex!") == ["!", "x"]


def test_random_windows_are_shifted_by_one_and_tile_an_epoch():
    module = _module()
    loader = module.train_dataloader()
    x, y = next(iter(loader))
    assert x.shape == y.shape == (4, 16)
    assert torch.equal(x[:, 1:], y[:, :-1])
    starts = loader.batch_sampler.sampler.order()  # an epoch tiles the split: no overlaps
    assert sum(len(b[0]) for b in loader) == len(starts) == (len(module.ids["train"]) - 16) // 16
    assert len(set((starts % 16).tolist())) == 1 and len(set(starts.tolist())) == len(starts)
    first = next(iter(loader))[0]
    assert torch.equal(first, next(iter(module.train_dataloader()))[0])  # the order is (seed, epoch)'s
    loader.batch_sampler.sampler.set_epoch(1)  # where Lightning calls it
    assert not torch.equal(first, next(iter(loader))[0])
    assert not torch.equal(first, next(iter(_module(seed=1).train_dataloader()))[0])


def test_validation_windows_tile_the_split_in_order():
    module = _module()
    x = torch.cat([b[0] for b in module.val_dataloader()])
    ids = module.ids["val"]
    assert torch.equal(x.flatten(), ids[: x.numel()])


def test_stateful_batches_continue_each_row():
    module = _module(stateful=True)
    batches = list(module.train_dataloader())
    assert all(b[0].shape == (4, 16) for b in batches)
    for first, second in itertools.pairwise(batches):
        assert torch.equal(first[1][:, -1], second[0][:, 0])  # row r's next input is its last target
    stream = torch.cat([b[0][0] for b in batches])
    assert torch.equal(stream, module.ids["train"][: len(stream)])


def test_builtin_corpus_needs_no_download():
    text = builtin_corpus()
    assert len(text) > 300_000 and "assert" in text
    module = CharTextDataModule()
    module.setup()
    assert module.spec.objective == "language" and module.spec.input_encoding == "embedding"


def test_one_hot_and_no_split_options():
    module = _module(one_hot=True, splits=None)
    assert module.spec.input_encoding == "one_hot"
    assert torch.equal(module.ids["train"], module.ids["val"])


def test_zero_test_fraction_means_no_test_split():
    module = _module(splits=[0.9, 0.1, 0.0])
    assert "test" not in module.ids
    with pytest.raises(ConfigError, match=r"^splits must be a test fraction > 0 to test"):
        module.test_dataloader()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "path must be a non-empty UTF-8 text file (got '{}'): the file is empty"),
        (
            b"\x00\x01\x02binary",
            "path must be a UTF-8 text file (got '{}'): it holds NUL bytes, so it looks binary",
        ),
        (
            "caf\u00e9".encode("latin-1"),
            "path must be a UTF-8 text file (got '{}'): byte 0xe9 at offset 3 is not valid UTF-8 (save "
            "the file as UTF-8, e.g. iconv -f latin1 -t utf-8)",
        ),
    ],
)
def test_bad_text_files(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as error:
        CharTextDataModule(path=str(path)).setup()
    assert str(error.value) == message.format(path)


def test_missing_text_file(tmp_path):
    with pytest.raises(
        ConfigError, match=r"^path must be an existing UTF-8 text file \(got '.*missing.txt'\)$"
    ):
        CharTextDataModule(path=str(tmp_path / "missing.txt")).setup()


def test_window_longer_than_a_split_gets_the_limit_that_fits_every_split():
    with pytest.raises(ConfigError) as error:
        _module(window=700, splits=[0.9, 0.05, 0.05])
    smallest = min(len(_module(splits=[0.9, 0.05, 0.05]).ids[s]) for s in ("train", "val", "test"))
    assert str(error.value) == (
        f"window must be <= {smallest - 1} so that a window fits the test split of {smallest} "
        "characters (got 700)"
    )
    _module(window=smallest - 1, splits=[0.9, 0.05, 0.05])  # the suggested limit works


def test_path_and_text_together_are_refused(tmp_path):
    with pytest.raises(ConfigError) as error:
        CharTextDataModule(path=str(tmp_path / "a.txt"), text="abc")
    assert str(error.value) == "text must be null when data.path is set (one source of text at a time)"


def test_the_old_name_seq_len_still_reads_as_window(caplog):
    """Configs stored by earlier runs (checkpoints, .hydra/config.yaml) say seq_len."""
    module = CharTextDataModule(text=TEXT, seq_len=16, batch_size=4)
    assert module.window == 16
    assert "data.seq_len is the old name of data.window; read as data.window=16" in caplog.text
