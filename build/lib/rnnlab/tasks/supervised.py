"""Tasks with one answer per sequence or at chosen steps (the memory benchmarks of
data/memory.py): a value, a class, or a token at each scored step.

Each logs its metrics per split (val, then every test split) and, beside them, the
baselines the data module computed on the same split (``spec.baselines``), as
``<split>/baseline_<metric>``: test/acc beside test/baseline_acc, test/mse beside
test/baseline_mse.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MeanMetric

from rnnlab.data.spec import TaskSpec
from rnnlab.tasks.base import TaskModule

Batch = tuple[torch.Tensor, torch.Tensor]
IGNORE = -100  # a step without an answer (PyTorch cross-entropy's ignore_index)


class _Scored(TaskModule):
    """Per-split running means of ``metric_names``, fed per item by ``losses``, logged at
    the end of the split with its baselines. ``<split>/loss`` is the mean over batches
    weighted by sequences: the mean over scored steps, as every memory task scores the
    same number of steps in each sequence."""

    metric_names: tuple[str, ...]

    def __init__(self, net: nn.Module, spec: TaskSpec, **kwargs) -> None:
        super().__init__(net, spec, **kwargs)
        self.metrics = nn.ModuleDict(
            {
                split: nn.ModuleDict({name: MeanMetric() for name in self.metric_names})
                for split in ("val", *spec.test_splits)
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network's outputs: values or logits per sequence, or logits per step (tokens)."""
        return self.net(x)[0]

    def losses(
        self, batch: Batch, net: nn.Module | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The batch's mean training loss, and per-item values of each metric."""
        raise NotImplementedError

    def batch_loss(self, batch: Batch, net: nn.Module | None = None) -> torch.Tensor:
        if net is not None:  # a copy in another dtype: real-valued inputs follow it
            dtype = next(net.parameters()).dtype
            batch = tuple(t.to(dtype) if t.is_floating_point() else t for t in batch)
        return self.losses(batch, net)[0]

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, _ = self.losses(batch)
        self.log_train_loss(loss, len(batch[0]))
        return loss

    def _evaluate(self, split: str, batch: Batch) -> None:
        loss, scores = self.losses(batch)
        self.log(
            f"{split}/loss",
            loss,
            prog_bar=True,
            batch_size=len(batch[0]),
            add_dataloader_idx=False,
            sync_dist=True,
        )
        for name, values in scores.items():
            self.metrics[split][name].update(values)

    def _log_split(self, split: str) -> None:
        for name, metric in self.metrics[split].items():
            self.log(f"{split}/{name}", metric.compute(), sync_dist=True)
            metric.reset()
        for name, value in self.spec.baselines.get(split, {}).items():
            self.log(f"{split}/baseline_{name}", float(value))

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_split("val")

    def test_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._evaluate(self.spec.test_splits[dataloader_idx], batch)

    def on_test_epoch_end(self) -> None:
        for split in self.spec.test_splits:
            self._log_split(split)

    @property
    def hparams_metrics(self) -> list[str]:
        names = ["val/loss", *(f"val/{name}" for name in self.metric_names)]
        return names + [f"{split}/{name}" for split in self.spec.test_splits for name in self.metric_names]


class ValueRegressor(_Scored):
    """One real value per sequence (the network's head gives ``output_size`` of them): MSE."""

    metric_names = ("mse",)

    def losses(self, batch, net=None):
        x, y = batch
        errors = ((net or self.net)(x)[0] - y) ** 2
        return errors.mean(), {"mse": errors.flatten()}


class SequenceClassifier(_Scored):
    """One class per sequence (``output_size`` logits from the head): cross-entropy and accuracy."""

    metric_names = ("acc",)

    def losses(self, batch, net=None):
        x, y = batch
        logits = (net or self.net)(x)[0]
        return F.cross_entropy(logits, y), {"acc": (logits.argmax(-1) == y).float()}


class TokenPredictor(_Scored):
    """A token at every scored step (targets ``IGNORE`` elsewhere), from per-step logits:
    cross-entropy over the scored steps (``loss``), their accuracy (``acc``) and the share of
    sequences with every scored step right (``seq_acc``)."""

    metric_names = ("acc", "seq_acc")

    def losses(self, batch, net=None):
        x, y = batch
        logits = (net or self.net)(x)[0]
        scored = y != IGNORE
        loss = F.cross_entropy(logits[scored], y[scored])
        right = (logits.argmax(-1) == y) | ~scored
        return loss, {"acc": right[scored].float(), "seq_acc": right.all(dim=1).float()}
