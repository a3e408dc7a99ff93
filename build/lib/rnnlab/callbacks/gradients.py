"""Seeing gradients: how dLoss/dh_t shrinks (or grows) back through time, and the global
gradient norm during training."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from rnnlab.callbacks.base import EveryNEpochs, Examples, TaskCallback
from rnnlab.declared import Annotated, Field, declared
from rnnlab.models.backbone import RecordsHiddenStates


def hidden_state_gradients(
    net: torch.nn.Module,
    loss_of: Callable[[torch.nn.Module], torch.Tensor],
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """||dL/dh_t|| for every step t, where h_t is the top layer's hidden state (forward
    direction) and L = ``loss_of(copy)`` computed with a copy of ``net``.

    dL/dh_t is the total derivative: everything h_t influences later, through the
    recurrence, and through the output at t. The copy's backbone is the backbone's own
    ``recording_copy()`` (models/backbone.py), which keeps every h_t. The copy runs in
    ``dtype``: over a few hundred steps the norms fall below float32's smallest number, and
    float64 still tells 1e-60 from 0. ``net`` and its gradients are left untouched. The
    norm is over batch and hidden units.
    """
    copy_ = copy.deepcopy(net)
    copy_.backbone = net.backbone.recording_copy()
    copy_.to(dtype).eval()  # no dropout: the same network every time it is measured
    with torch.enable_grad():
        loss = loss_of(copy_)
        grads = torch.autograd.grad(loss, copy_.backbone.recorded)
    return torch.stack([g.norm() for g in grads]).detach().cpu()


class GradientFlow(TaskCallback):
    """Measures ||dL/dh_t|| per time step on a fixed validation batch before training and
    every ``every_n_epochs`` epochs. Scalars ``gradflow/first_over_last`` (the norm at the
    first step over the norm at the last: how much of the signal reaches the start of the
    window), ``gradflow/first`` and ``gradflow/last``; ``<run>/gradflow.json`` with every
    curve; at the end of training one TensorBoard figure of all the curves
    (``gradflow/norms``, log scale). Any task (every TaskModule has ``batch_loss``) whose
    backbone can record its hidden states (``RecordsHiddenStates``)."""

    def applies(self, pl_module) -> str | None:
        if reason := super().applies(pl_module):
            return reason
        backbone = pl_module.net.backbone
        if not isinstance(backbone, RecordsHiddenStates):
            return (
                f"the backbone {type(backbone).__name__} cannot record its hidden states (no recording_copy)"
            )
        return None

    @declared
    def __init__(self, every_n_epochs: EveryNEpochs = 1, num_examples: Examples = 32) -> None:
        super().__init__(every_n_epochs)
        self.num_examples = num_examples
        self.history: list[dict] = []
        self._batch = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.history:  # the untrained network; a resumed run has its history back
            self._measure(trainer, pl_module)

    def state_dict(self) -> dict:
        """Saved in checkpoints, so a resumed run continues the same curves."""
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.due(trainer):
            self._measure(trainer, pl_module)

    def summary_metrics(self) -> dict[str, float]:
        """For metrics.json: the first-over-last ratio before training and at the end."""
        if not self.history:
            return {}
        first, last = self.history[0], self.history[-1]
        return {
            "gradflow/first_over_last_start": first["first_over_last"],
            "gradflow/first_over_last": last["first_over_last"],
        }

    def _fixed_batch(self, trainer: L.Trainer, pl_module: L.LightningModule):
        if self._batch is None:
            batch = next(iter(trainer.datamodule.val_dataloader()))
            self._batch = tuple(part[: self.num_examples] for part in batch)
        return tuple(part.to(pl_module.device) for part in self._batch)

    def _measure(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.active or not trainer.is_global_zero:
            return
        # a measurement draws no random numbers from the run (iterating a DataLoader draws a
        # seed): a resumed run stays identical to one that never stopped
        devices = [pl_module.device.index or 0] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            batch = self._fixed_batch(trainer, pl_module)
            norms = hidden_state_gradients(pl_module.net, lambda net: pl_module.batch_loss(batch, net))
        ratio = float(norms[0] / norms[-1]) if norms[-1] > 0 else float("inf")
        label = "before training" if not self.history else f"epoch {trainer.current_epoch}"
        self.history.append(
            {
                "label": label,
                "epoch": trainer.current_epoch,
                "step": trainer.global_step,
                "first_over_last": ratio,
                "norms": norms.tolist(),
            }
        )
        scalars = {"gradflow/first_over_last": ratio, "gradflow/first": norms[0], "gradflow/last": norms[-1]}
        for logger in trainer.loggers:
            logger.log_metrics({k: float(v) for k, v in scalars.items()}, trainer.global_step)
        path = Path(trainer.default_root_dir) / "gradflow.json"
        path.write_text(json.dumps(self.history, indent=1) + "\n")

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """One figure with every curve (drawing a figure costs more than a measurement, so not
        one per measurement)."""
        tensorboard = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if tensorboard is not None and self.history and trainer.is_global_zero:
            tensorboard.experiment.add_figure("gradflow/norms", _figure(self.history), trainer.global_step)


class GradientNorm(L.Callback):
    """Logs ``train/grad_norm``, the global 2-norm of all gradients before clipping, every
    ``every_n_steps`` optimizer steps."""

    @declared
    def __init__(
        self, every_n_steps: Annotated[int, Field(ge=1, description="optimizer steps between norms")] = 10
    ) -> None:
        self.every_n_steps = every_n_steps

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step % self.every_n_steps:
            return
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            pl_module.log("train/grad_norm", norm, on_step=True, on_epoch=False)


def _figure(history: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    colors = plt.cm.viridis([i / max(1, len(history) - 1) for i in range(len(history))])
    for entry, color in zip(history, colors, strict=True):
        ax.semilogy(range(len(entry["norms"])), entry["norms"], color=color, label=entry["label"])
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dL/dh_t||")
    ax.legend(fontsize="small", loc="best", ncol=2)
    fig.tight_layout()
    return fig
