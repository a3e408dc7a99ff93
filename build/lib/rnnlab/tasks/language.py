"""CharLanguageModel: next-character prediction, its metrics, and sampling text."""

from __future__ import annotations

import math

import torch
from torch import nn
from torchmetrics import MeanMetric

from rnnlab.data.spec import TaskSpec, Vocabulary
from rnnlab.models.backbone import State, map_state
from rnnlab.tasks.base import TaskModule

Batch = tuple[torch.Tensor, torch.Tensor]


class CharLanguageModel(TaskModule):
    """Trains ``net`` (per-step logits over the vocabulary) with cross-entropy.

    Reported per split: ``loss`` (nats per character), ``bpc`` (bits per character),
    ``ppl`` (perplexity) and ``acc`` (top-1 next-character accuracy), averaged over every
    character of the split. With a stateful spec the hidden state is carried from batch to
    batch (detached: truncated backpropagation through time) and reset at each epoch.
    """

    def __init__(self, net: nn.Module, spec: TaskSpec, **kwargs) -> None:
        super().__init__(net, spec, **kwargs)
        self.vocab = Vocabulary(spec.vocab)
        self.split_loss = nn.ModuleDict({s: MeanMetric() for s in ("val", "test")})
        self.split_acc = nn.ModuleDict({s: MeanMetric() for s in ("val", "test")})
        self.state: State | None = None

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits (batch, time, vocab) for token ids (batch, time), and the final state."""
        return self.net(ids, state)

    def _step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = batch
        logits, state = self(x, self.state if self.spec.stateful else None)
        if self.spec.stateful:
            self.state = map_state(torch.Tensor.detach, state)
        losses = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
        return losses, logits, y

    def batch_loss(self, batch: Batch, net: nn.Module | None = None) -> torch.Tensor:
        """Mean cross-entropy of one batch from a zero state (no carried state is touched),
        with this task's network or ``net``."""
        x, y = batch
        logits, _ = (net or self.net)(x)
        return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self.state = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # the carried state of stateful training, so that a run resumed mid-epoch goes on
        # from it (None at epoch ends and for window batches)
        super().on_save_checkpoint(checkpoint)
        checkpoint["carried_state"] = self.state

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get("carried_state")
        self.state = map_state(lambda tensor: tensor.to(self.device), state)

    def on_validation_epoch_start(self) -> None:
        self._saved_state, self.state = self.state, None

    def on_validation_epoch_end(self) -> None:
        self._log_split("val")
        self.state = self._saved_state

    def on_test_epoch_start(self) -> None:
        self.state = None

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        losses, _, y = self._step(batch)
        loss = losses.mean()
        self.log_train_loss(loss, y.numel())
        self.log("train/bpc", loss / math.log(2), on_step=True, on_epoch=False, batch_size=y.numel())
        return loss

    def _evaluate(self, split: str, batch: Batch) -> None:
        losses, logits, y = self._step(batch)
        self.split_loss[split].update(losses)
        self.split_acc[split].update((logits.argmax(-1) == y).float().flatten())

    def _log_split(self, split: str) -> None:
        loss = self.split_loss[split].compute()
        self.log(f"{split}/loss", loss, prog_bar=True, sync_dist=True)
        self.log(f"{split}/bpc", loss / math.log(2), sync_dist=True)
        self.log(f"{split}/ppl", loss.exp(), sync_dist=True)
        self.log(f"{split}/acc", self.split_acc[split].compute(), sync_dist=True)
        self.split_loss[split].reset()
        self.split_acc[split].reset()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate("test", batch)

    def on_test_epoch_end(self) -> None:
        self._log_split("test")

    @torch.no_grad()
    def sample(
        self,
        prompt: str,
        length: int,
        temperature: float = 1.0,
        top_k: int = 0,
        generator: torch.Generator | None = None,
    ) -> str:
        """``prompt`` and ``length`` characters drawn after it, one at a time.

        temperature 0 takes the most likely character (greedy); top_k > 0 draws only among
        the k most likely. <unk> is never drawn. Characters of the prompt that training never
        saw are read as <unk>.
        """
        was_training = self.training
        self.eval()
        ids = torch.tensor([self.vocab.encode(prompt)], device=self.device)
        logits, state = self(ids)
        drawn: list[int] = []
        for _ in range(length):
            scores = logits[0, -1].float()
            scores[0] = -math.inf
            if temperature == 0:
                token = int(scores.argmax())
            else:
                scores = scores / temperature
                if 0 < top_k < len(scores):
                    threshold = scores.topk(top_k).values[-1]
                    scores[scores < threshold] = -math.inf
                probs = scores.softmax(-1).cpu()
                token = int(torch.multinomial(probs, 1, generator=generator))
            drawn.append(token)
            logits, state = self(torch.tensor([[token]], device=self.device), state)
        self.train(was_training)
        return prompt + self.vocab.decode(drawn)

    @property
    def hparams_metrics(self) -> list[str]:
        return ["val/loss", "val/bpc", "val/acc", "test/loss", "test/bpc"]
