"""SequenceRegressor: forecasting with MSE, honest baselines and a multi-step rollout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

from rnnlab.data.spec import TaskSpec

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]


def _errors(prefix: str) -> MetricCollection:
    return MetricCollection({"mse": MeanSquaredError(), "mae": MeanAbsoluteError()}, prefix=prefix)


class SequenceRegressor(L.LightningModule):
    """Trains ``net`` to map a window of past values to the next ``horizon`` values.

    The loss is MSE on the train-split-standardized scale; every reported metric (mse, mae)
    is in the series' original units. Beside the model, on the same windows, it reports the
    last-value naive forecast (``naive_``) and, when the season is known, the seasonal naive
    forecast (``snaive_``). At test time it also rolls the model out autoregressively over
    the test targets (its own forecasts fed back as inputs) and reports the error per step.
    """

    def __init__(
        self,
        net: nn.Module,
        spec: TaskSpec,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        scheduler_monitor: str = "val/loss",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(
            {"spec": asdict(spec), "scheduler_monitor": scheduler_monitor}, logger=False
        )
        self.net = net
        self.spec = spec
        self.horizon = spec.output_size
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_monitor = scheduler_monitor
        self.loss_fn = nn.MSELoss()

        self.metrics = nn.ModuleDict()
        for split in ("val", "test"):
            self.metrics[split] = _errors(f"{split}/")
            self.metrics[f"{split}_naive"] = _errors(f"{split}/naive_")
            if spec.season is not None:
                self.metrics[f"{split}_snaive"] = _errors(f"{split}/snaive_")
        self.test_step_mse = MeanSquaredError(num_outputs=self.horizon)
        self.rollout_steps = spec.rollout_steps or self.horizon
        self.rollout_mse = MeanSquaredError(num_outputs=self.rollout_steps)
        self.rollout_naive_mse = MeanSquaredError()

    # --- the forecast -----------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Direct forecast of the next ``horizon`` values, on the scaled axis."""
        return self.net(x)[0]

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

    def to_original_units(self, values: torch.Tensor) -> torch.Tensor:
        return values * self.spec.target_std + self.spec.target_mean

    def naive(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """Last observed value, repeated."""
        return x[:, -1, :1].expand(-1, steps)

    def seasonal_naive(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """The value one season earlier (season <= window is guaranteed by the spec)."""
        season, window = self.spec.season, x.shape[1]
        index = window - season + torch.arange(steps, device=x.device) % season
        return x[:, index, 0]

    # --- steps ------------------------------------------------------------------------------
    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(x))
        return loss

    def _evaluate(self, split: str, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = y[:, : self.horizon]
        prediction = self(x)
        self.log(f"{split}/loss", self.loss_fn(prediction, y), prog_bar=True, batch_size=len(x))
        truth = self.to_original_units(y)
        self.metrics[split].update(self.to_original_units(prediction), truth)
        self.metrics[f"{split}_naive"].update(self.to_original_units(self.naive(x, self.horizon)), truth)
        if self.spec.season is not None:
            snaive = self.seasonal_naive(x, self.horizon)
            self.metrics[f"{split}_snaive"].update(self.to_original_units(snaive), truth)
        return prediction, truth

    def _log_split(self, split: str) -> None:
        for key in [k for k in self.metrics if k == split or k.startswith(f"{split}_")]:
            self.log_dict(self.metrics[key].compute())
            self.metrics[key].reset()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("val", *batch)

    def on_validation_epoch_end(self) -> None:
        self._log_split("val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        prediction, truth = self._evaluate("test", x, y)
        self.test_step_mse.update(self.to_original_units(prediction), truth)
        steps = self.rollout_steps
        rollout_truth = self.to_original_units(y[:, :steps])
        self.rollout_mse.update(self.to_original_units(self.rollout(x, steps)), rollout_truth)
        self.rollout_naive_mse.update(self.to_original_units(self.naive(x, steps)), rollout_truth)

    def on_test_epoch_end(self) -> None:
        self._log_split("test")
        for step, value in enumerate(self.test_step_mse.compute(), start=1):
            self.log(f"test/mse_step{step}", value)
        self.test_step_mse.reset()
        per_step = self.rollout_mse.compute()
        width = len(str(len(per_step)))
        for step, value in enumerate(per_step, start=1):
            self.log(f"test_rollout/mse_step{step:0{width}d}", value)
        self.log("test_rollout/mse", per_step.mean())
        self.log("test_rollout/naive_mse", self.rollout_naive_mse.compute())
        self.rollout_mse.reset()
        self.rollout_naive_mse.reset()

    # --- optimization -----------------------------------------------------------------------
    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.scheduler_monitor, "interval": "epoch"},
        }

    @property
    def hparams_metrics(self) -> list[str]:
        """Metric names shown beside the hyperparameters in TensorBoard's HPARAMS tab."""
        names = ["val/loss", "val/mse", "val/naive_mse", "test/mse", "test/mae", "test/naive_mse"]
        return names + (["test/snaive_mse"] if self.spec.season is not None else [])
