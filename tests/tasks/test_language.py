import functools
import math

import pytest
import torch

from rnnlab.data.spec import TaskSpec
from rnnlab.data.text import CharTextDataModule
from rnnlab.errors import ConfigError
from rnnlab.models.backbone import map_state
from rnnlab.models.lru import LRUNet
from rnnlab.models.net import RecurrentNet
from rnnlab.models.s6 import S6Net
from rnnlab.tasks.language import CharLanguageModel

ADAM = functools.partial(torch.optim.Adam, lr=1e-2)
VOCAB = ("<unk>", " ", "a", "b", "c")


def _model(stateful=False, encoding="embedding", **net_kwargs) -> CharLanguageModel:
    spec = TaskSpec(
        "language", len(VOCAB), len(VOCAB), vocab=VOCAB, input_encoding=encoding, stateful=stateful
    )
    net = RecurrentNet(
        "gru",
        input_size=len(VOCAB),
        output_size=len(VOCAB),
        hidden_size=8,
        head="step",
        input_encoding=encoding,
        **net_kwargs,
    )
    return CharLanguageModel(net=net, spec=spec, optimizer=ADAM)


def test_logits_cover_the_vocabulary_at_every_step():
    for encoding in ("embedding", "one_hot"):
        logits, _ = _model(encoding=encoding)(torch.randint(0, 5, (3, 7)))
        assert logits.shape == (3, 7, 5)


def test_tied_weights_share_the_embedding_table():
    model = _model(tie_weights=True)
    assert model.net.head.linear.weight is model.net.encoder.weight
    with pytest.raises(ConfigError, match=r"^tie_weights must be used with an embedding input"):
        _model(tie_weights=True, embedding_dim=4)


def test_sampling_is_seeded_greedy_at_zero_and_never_draws_unk():
    torch.manual_seed(0)
    model = _model()

    def draw(seed, **kwargs):
        return model.sample("ab", 40, generator=torch.Generator().manual_seed(seed), **kwargs)

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)
    assert draw(1).startswith("ab") and len(draw(1)) == 42
    assert "\ufffd" not in draw(3, temperature=5.0)  # <unk> would decode to U+FFFD
    greedy = draw(1, temperature=0)
    assert greedy == draw(2, temperature=0)
    ids = torch.tensor([model.vocab.encode("ab")])
    logits, _ = model(ids)
    scores = logits[0, -1].clone()
    scores[0] = -math.inf
    assert greedy[2] == VOCAB[int(scores.argmax())]
    assert set(draw(5, top_k=1)) == set(greedy)  # top-1 is greedy


def test_stateful_training_carries_the_state_and_resets_it_each_epoch():
    model = _model(stateful=True)
    batch = (torch.randint(1, 5, (2, 6)), torch.randint(1, 5, (2, 6)))
    model.on_train_epoch_start()
    model.training_step(batch, 0)
    carried = model.state.clone()
    assert not carried.requires_grad  # detached: truncated BPTT
    _, expected = model(batch[0], carried)
    model.training_step(batch, 1)
    assert torch.allclose(model.state, expected.detach())
    model.on_train_epoch_start()
    assert model.state is None


def _tensors(state) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    map_state(found.append, state)
    return found


@pytest.mark.parametrize("family", [LRUNet, S6Net])
def test_a_model_family_state_is_carried_detached_and_kept_in_checkpoints(tmp_path, family):
    """LRU's state is complex; S6's is a tuple per layer (convolution inputs, h)."""
    spec = TaskSpec(
        "language", len(VOCAB), len(VOCAB), vocab=VOCAB, input_encoding="embedding", stateful=True
    )

    def model() -> CharLanguageModel:
        torch.manual_seed(0)
        net = family(
            input_size=len(VOCAB),
            output_size=len(VOCAB),
            hidden_size=8,
            head="step",
            input_encoding="embedding",
        )
        return CharLanguageModel(net=net, spec=spec, optimizer=ADAM)

    trained = model()
    batch = (torch.randint(1, 5, (2, 6)), torch.randint(1, 5, (2, 6)))
    trained.on_train_epoch_start()
    trained.training_step(batch, 0)
    assert _tensors(trained.state) and not any(t.requires_grad for t in _tensors(trained.state))
    _, expected = trained(batch[0], trained.state)
    trained.training_step(batch, 1)
    for carried, wanted in zip(_tensors(trained.state), _tensors(expected), strict=True):
        torch.testing.assert_close(carried, wanted.detach())

    checkpoint: dict = {}
    trained.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, tmp_path / "state.ckpt")
    resumed = model()
    resumed.on_load_checkpoint(torch.load(tmp_path / "state.ckpt", weights_only=True))
    for loaded, saved in zip(_tensors(resumed.state), _tensors(trained.state), strict=True):
        assert loaded.dtype == saved.dtype
        torch.testing.assert_close(loaded, saved)


@pytest.mark.filterwarnings("ignore:.*self.trainer. reference is not registered")
def test_loss_bpc_and_accuracy_are_per_character():
    model = _model()
    x, y = torch.randint(1, 5, (2, 6)), torch.randint(1, 5, (2, 6))
    model.eval()
    with torch.no_grad():
        model._evaluate("val", (x, y))
        logits, _ = model(x)
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    assert torch.isclose(model.split_loss["val"].compute(), expected)
    accuracy = (logits.argmax(-1) == y).float().mean()
    assert torch.isclose(model.split_acc["val"].compute(), accuracy)


def test_a_small_lstm_learns_text_far_below_the_unigram_entropy(tmp_path, seed, figure):
    import lightning as L

    L.seed_everything(seed)
    text = "the cat sat on the mat. " * 300
    data = CharTextDataModule(text=text, window=24, batch_size=16, splits=[0.8, 0.1, 0.1])
    data.setup()
    spec = data.spec
    net = RecurrentNet(
        "lstm",
        input_size=spec.input_size,
        output_size=spec.output_size,
        hidden_size=32,
        head="step",
        input_encoding="embedding",
    )
    model = CharLanguageModel(net=net, spec=spec, optimizer=ADAM)
    trainer = L.Trainer(
        max_epochs=8,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=data)
    (metrics,) = trainer.test(model, datamodule=data, verbose=False)
    counts = torch.bincount(data.ids["train"]).float()
    probs = counts[counts > 0] / counts.sum()
    unigram_bits = float(-(probs * probs.log2()).sum())  # about 3 bits per character
    assert figure("test/bpc over unigram", metrics["test/bpc"] / unigram_bits) < 0.25
    assert figure("test/acc", metrics["test/acc"]) > 0.9
