"""SequenceRegressor: forecasting with MSE, honest baselines and a multi-step rollout."""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, Metric, MetricCollection

from rnnlab.data.spec import TaskSpec
from rnnlab.tasks.base import TaskModule

Batch = tuple[torch.Tensor, torch.Tensor]


class ExactMatch(MeanMetric):
    """The share of predictions that equal the target after rounding to the nearest integer."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        super().update((preds.round() == target).float())


class AllExact(MeanMetric):
    """The share of sequences whose every predicted step is exactly right after rounding."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        super().update((preds.round() == target).all(dim=1).float())


def _errors(prefix: str, exact: bool) -> MetricCollection:
    metrics: dict[str, Metric] = {"mse": MeanSquaredError(), "mae": MeanAbsoluteError()}
    if exact:
        metrics["exact"] = ExactMatch()
    return MetricCollection(metrics, prefix=prefix)


class SequenceRegressor(TaskModule):
    """Trains ``net`` to map a window of past values to the next ``horizon`` values.

    Batches hold values in original units. The network sees them scaled by
    ``spec.scaling`` and the loss is MSE on that scale; every reported metric (mse, mae,
    and exact match for integer targets) is in original units. Beside the model, on the
    same windows, it reports the last-value naive forecast (``naive_``) and, when the season
    is known, the seasonal naive forecast (``snaive_``). At test time it also rolls the model
    out autoregressively over the test targets (its own forecasts fed back as inputs) and
    reports the error per step, for every test split.
    """

    def __init__(self, net: nn.Module, spec: TaskSpec, **kwargs) -> None:
        super().__init__(net, spec, **kwargs)
        self.horizon = spec.output_size
        self.rollout_steps = spec.rollout_steps or self.horizon
        self.loss_fn = nn.MSELoss()

        exact = spec.integer_targets
        self.metrics = nn.ModuleDict()
        for split in ("val", *spec.test_splits):
            self.metrics[split] = _errors(f"{split}/", exact)
            self.metrics[f"{split}_naive"] = _errors(f"{split}/naive_", exact)
            if spec.season is not None:
                self.metrics[f"{split}_snaive"] = _errors(f"{split}/snaive_", exact)
        self.per_step = nn.ModuleDict()
        for split in spec.test_splits:
            self.per_step[split] = MeanSquaredError(num_outputs=self.horizon)
            self.per_step[f"{split}_rollout"] = MeanSquaredError(num_outputs=self.rollout_steps)
            self.per_step[f"{split}_rollout_naive"] = MeanSquaredError()
            if exact:
                self.per_step[f"{split}_rollout_exact"] = AllExact()

    # --- the forecast -----------------------------------------------------------------------
    def network_input(self, x: torch.Tensor) -> torch.Tensor:
        """Windows in original units as the network sees them (scaled)."""
        return self.spec.scaling.encode(x, self.spec.scaling.offsets(x))

    def _scaled_forward(
        self, x: torch.Tensor, net: nn.Module | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's output on its own scale, and the offsets that undo the scaling."""
        offsets = self.spec.scaling.offsets(x)
        return (net or self.net)(self.spec.scaling.encode(x, offsets))[0], offsets

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Direct forecast of the next ``horizon`` values, in original units."""
        scaled, offsets = self._scaled_forward(x)
        return self.spec.scaling.decode(scaled, offsets)

    def rollout(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """Forecast ``steps`` values autoregressively, ``horizon`` at a time, feeding each
        forecast back as the newest inputs of a window that keeps its length."""
        window = x.shape[1]
        chunks, produced = [], 0
        while produced < steps:
            chunk = self(x)
            chunks.append(chunk)
            produced += chunk.shape[1]
            x = torch.cat([x, chunk.unsqueeze(-1)], dim=1)[:, -window:]
        return torch.cat(chunks, dim=1)[:, :steps]

    @torch.no_grad()
    def predict_next(self, values: list[float]) -> list[float]:
        """The forecast that follows one window of values (original units)."""
        x = torch.as_tensor(values, dtype=torch.float32, device=self.device).reshape(1, -1, 1)
        return self(x)[0].tolist()

    def naive(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """Last observed value, repeated."""
        return x[:, -1, :1].repeat(1, steps)

    def seasonal_naive(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """The value one season earlier (season <= window is guaranteed by the spec)."""
        season, window = self.spec.season, x.shape[1]
        index = window - season + torch.arange(steps, device=x.device) % season
        return x[:, index, 0]

    # --- steps ------------------------------------------------------------------------------
    def batch_loss(self, batch: Batch, net: nn.Module | None = None) -> torch.Tensor:
        """The training loss of one batch (on the scale the model trains on), with this task's
        network or ``net`` (a copy, maybe in another dtype: the batch follows it)."""
        x, y = batch
        if net is not None:
            dtype = next(net.parameters()).dtype
            x, y = x.to(dtype), y.to(dtype)
        scaled, offsets = self._scaled_forward(x, net)
        return self.loss_fn(scaled, self.spec.scaling.encode(y[:, : self.horizon], offsets))

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self.batch_loss(batch)
        self.log_train_loss(loss, len(batch[0]))
        return loss

    def _evaluate(self, split: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = y[:, : self.horizon].contiguous()  # test targets run on for the rollout
        scaled, offsets = self._scaled_forward(x)
        loss = self.loss_fn(scaled, self.spec.scaling.encode(y, offsets))
        self.log(
            f"{split}/loss", loss, prog_bar=True, batch_size=len(x), add_dataloader_idx=False, sync_dist=True
        )
        prediction = self.spec.scaling.decode(scaled, offsets)
        self.metrics[split].update(prediction, y)
        self.metrics[f"{split}_naive"].update(self.naive(x, self.horizon), y)
        if self.spec.season is not None:
            self.metrics[f"{split}_snaive"].update(self.seasonal_naive(x, self.horizon), y)
        return prediction

    def _log_split(self, split: str) -> None:
        for key in (split, f"{split}_naive", f"{split}_snaive"):
            if key not in self.metrics:
                continue
            self.log_dict(self.metrics[key].compute(), sync_dist=True)
            self.metrics[key].reset()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate("val", *batch)

    def on_validation_epoch_end(self) -> None:
        self._log_split("val")

    def test_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        split = self.spec.test_splits[dataloader_idx]
        x, y = batch
        self.per_step[split].update(self._evaluate(split, x, y), y[:, : self.horizon].contiguous())
        truth = y[:, : self.rollout_steps].contiguous()
        rollout = self.rollout(x, self.rollout_steps)
        self.per_step[f"{split}_rollout"].update(rollout, truth)
        self.per_step[f"{split}_rollout_naive"].update(self.naive(x, self.rollout_steps), truth)
        if self.spec.integer_targets:
            self.per_step[f"{split}_rollout_exact"].update(rollout, truth)

    def on_test_epoch_end(self) -> None:
        for split in self.spec.test_splits:
            self._log_split(split)
            # reshape: with one output torchmetrics returns a 0-d tensor
            for step, value in enumerate(self.per_step[split].compute().reshape(-1), start=1):
                self.log(f"{split}/mse_step{step}", value, sync_dist=True)
            per_step = self.per_step[f"{split}_rollout"].compute().reshape(-1)
            width = len(str(len(per_step)))
            for step, value in enumerate(per_step, start=1):
                self.log(f"{split}_rollout/mse_step{step:0{width}d}", value, sync_dist=True)
            self.log(f"{split}_rollout/mse", per_step.mean(), sync_dist=True)
            naive = self.per_step[f"{split}_rollout_naive"].compute()
            self.log(f"{split}_rollout/naive_mse", naive, sync_dist=True)
            if self.spec.integer_targets:
                exact = self.per_step[f"{split}_rollout_exact"].compute()
                self.log(f"{split}_rollout/exact", exact, sync_dist=True)
        for metric in self.per_step.values():
            metric.reset()

    @property
    def hparams_metrics(self) -> list[str]:
        """Metric names shown beside the hyperparameters in TensorBoard's HPARAMS tab."""
        names = ["val/loss", "val/mse", "val/naive_mse"]
        for split in self.spec.test_splits:
            names += [f"{split}/mse", f"{split}/mae", f"{split}/naive_mse"]
            if self.spec.integer_targets:
                names.append(f"{split}/exact")
        return names
