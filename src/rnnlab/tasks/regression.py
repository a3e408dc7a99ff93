"""SequenceRegressor: forecasting with a point or probabilistic loss, honest baselines and a
multi-step rollout."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, Metric

from rnnlab.data.spec import TaskSpec
from rnnlab.errors import ConfigError
from rnnlab.tasks import conformal
from rnnlab.tasks.base import TaskModule
from rnnlab.tasks.likelihood import Likelihood, pinball

Batch = tuple[torch.Tensor, torch.Tensor]


class ExactMatch(MeanMetric):
    """The share of predictions that equal the target after rounding to the nearest integer."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        super().update((preds.round() == target).float())


class AllExact(MeanMetric):
    """The share of sequences whose every predicted step is exactly right after rounding."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        super().update((preds.round() == target).all(dim=1).float())


def _errors(exact: bool, targets: int) -> nn.ModuleDict:
    """Errors in original units, one value per target (rows of shape (n, targets))."""
    metrics: dict[str, Metric] = {
        "mse": MeanSquaredError(num_outputs=targets),
        "mae": MeanAbsoluteError(num_outputs=targets),
    }
    if exact:
        metrics["exact"] = ExactMatch()
    return nn.ModuleDict(metrics)


def _per_row(values: torch.Tensor) -> torch.Tensor:
    """(batch, steps, targets) as rows of targets, the shape per-target metrics take."""
    return values.reshape(-1, values.shape[-1])


def _per_step(values: torch.Tensor) -> torch.Tensor:
    """(batch, steps, targets) as rows of steps, the shape per-step metrics take."""
    return values.transpose(1, 2).reshape(-1, values.shape[1])


class SequenceRegressor(TaskModule):
    """Trains ``net`` to map a window of past rows to the next ``horizon`` values of the targets.

    Batches hold rows of every column (the targets first, then covariates) in original
    units. The network sees them scaled by ``spec.scaling`` and gives ``likelihood.params``
    numbers per forecast value; the loss (MSE, Gaussian NLL or pinball) is on that scale and
    every reported metric (mse, mae, exact match for integer targets; with a probabilistic
    likelihood the pinball loss, the CRPS where it has a closed form and the coverage of the
    interval between the outer quantiles) is in original units, averaged over the targets and,
    with several, per target (``test/mse_<target>``). Beside the model, on the same windows,
    it reports the last-value naive forecast (``naive_``), the seasonal naive forecast when
    the season is known (``snaive_``), and the baselines the data module scored
    (``spec.baselines``: the linear autoregression, ``ar_``). At test time it also rolls the
    model out autoregressively over the test targets (its own forecasts fed back as inputs,
    beside the covariates' observed values) and reports the error per step, for every test
    split.

    With ``calibrate="conformal"`` the test also scores the interval calibrated on the
    validation windows (tasks/conformal.py; a point forecast gets one from its residuals)
    aiming at ``coverage``: ``coverage_conformal`` and ``width_conformal`` beside the raw
    ``coverage`` and ``width``.

    With ``highway`` (LSTNet's, Lai et al. 2018) a linear map of the scaled window is added
    to the network's output. Before training it is set to the least-squares autoregression
    on the train windows (the linear baseline's fit) and kept there, and the network's
    output layer starts at 0: the model starts as the linear forecast and the network
    learns what it misses. (LSTNet trains the highway with the network; trained, it drifted
    above the linear forecast's test error on the README's load example, fixed it did not:
    docs/benchmarks.md.)
    """

    def __init__(
        self,
        net: nn.Module,
        spec: TaskSpec,
        likelihood: Likelihood | None = None,
        calibrate: str | None = None,
        coverage: float = 0.8,
        highway: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(net, spec, **kwargs)
        self.likelihood = likelihood or Likelihood()
        self.highway = None
        if highway:
            if spec.window is None:
                raise ConfigError("task.highway", "false for data without a fixed window", True)
            outputs = spec.output_size * self.likelihood.params
            self.highway = nn.Linear(spec.window * spec.input_size, outputs).requires_grad_(False)
        self.calibrate, self.coverage = calibrate, coverage
        self.margins: torch.Tensor | None = None  # (horizon, targets), set before each test
        self.horizon = spec.horizon
        self.targets = len(spec.targets)
        self.rollout_steps = spec.rollout_steps or self.horizon

        exact = spec.integer_targets
        self.metrics = nn.ModuleDict()
        for split in ("val", *spec.test_splits):
            self.metrics[split] = _errors(exact, self.targets)
            self.metrics[f"{split}_naive"] = _errors(exact, self.targets)
            if spec.season is not None:
                self.metrics[f"{split}_snaive"] = _errors(exact, self.targets)
            scores = {}
            if self.likelihood.levels:
                scores = {"pinball": MeanMetric(), "coverage": MeanMetric(), "width": MeanMetric()}
                if self.likelihood.closed_form_crps:
                    scores["crps"] = MeanMetric()
            if self.calibrate and split != "val":
                scores.update(coverage_conformal=MeanMetric(), width_conformal=MeanMetric())
            if scores:
                self.metrics[f"{split}_interval"] = nn.ModuleDict(scores)
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

    def _outputs(self, x: torch.Tensor, net: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's output on its own scale, (batch, horizon, targets, params), and the
        offsets that undo the scaling."""
        offsets = self.spec.scaling.offsets(x)
        scaled = self.spec.scaling.encode(x, offsets)
        output = (net or self.net)(scaled)[0]
        if self.highway is not None:  # in the dtype of the network it runs beside
            weight, bias = self.highway.weight.to(scaled.dtype), self.highway.bias.to(scaled.dtype)
            output = output + F.linear(scaled.flatten(1), weight, bias)
        return output.reshape(x.shape[0], self.horizon, self.targets, self.likelihood.params), offsets

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Point forecast of the next ``horizon`` values of each target, (batch, horizon,
        targets), in original units."""
        output, offsets = self._outputs(x)
        return self.spec.scaling.decode(self.likelihood.point(output), offsets)

    def interval(self, x: torch.Tensor) -> torch.Tensor:
        """The quantiles at ``likelihood.levels`` of the next ``horizon`` values, (batch,
        horizon, targets, levels), in original units."""
        output, offsets = self._outputs(x)
        return self._decoded_quantiles(output, offsets)

    def _decoded_quantiles(self, output: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        quantiles = self.likelihood.quantiles(output).movedim(-1, 1)  # levels before the targets
        return self.spec.scaling.decode(quantiles, offsets).movedim(1, -1)

    def rollout(self, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        """Forecast the targets over as many steps as ``future`` (batch, steps, columns) holds,
        autoregressively, ``horizon`` at a time: each forecast goes back in as the newest
        rows of a window that keeps its length, beside the covariates' values that
        ``future`` holds (its target columns are not read)."""
        return self.rollout_interval(x, future)[0]

    def rollout_interval(self, x: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The rollout's point forecast (batch, steps, targets) and the interval around it,
        (batch, steps, targets, 2): each chunk's outer quantiles where the likelihood has
        them (given the point forecasts fed back), else the point twice."""
        window, steps = x.shape[1], future.shape[1]
        points, bounds, produced = [], [], 0
        while produced < steps:
            point, bound = (part[:, : steps - produced] for part in self.forecast_interval(x))
            rows = torch.cat([point, future[:, produced : produced + point.shape[1], self.targets :]], dim=-1)
            points.append(point)
            bounds.append(bound)
            produced += point.shape[1]
            x = torch.cat([x, rows], dim=1)[:, -window:]
        return torch.cat(points, dim=1), torch.cat(bounds, dim=1)

    def forecast_interval(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``horizon`` values (batch, horizon, targets) and the interval around them
        (batch, horizon, targets, 2): the outer quantiles where the likelihood has them,
        else the point twice; in original units, from one pass of the network."""
        output, offsets = self._outputs(x)
        point = self.spec.scaling.decode(self.likelihood.point(output), offsets)
        return point, self._bounds(output, offsets, point)

    def _bounds(self, output: torch.Tensor, offsets: torch.Tensor, point: torch.Tensor) -> torch.Tensor:
        """The outer quantiles (..., 2) where the likelihood has them, else the point twice."""
        if self.likelihood.levels:
            return self._decoded_quantiles(output, offsets)[..., [0, -1]]
        return torch.stack([point, point], dim=-1)

    @torch.no_grad()
    def calibration_margins(self, windows) -> torch.Tensor:
        """Conformal margins per step and target from calibration windows: an iterable of
        (inputs, targets) batches in original units, their targets as many steps as the
        forecast to calibrate (up to the horizon: direct; beyond it: the rollout's)."""
        scores = []
        for x, y in windows:
            x, y = x.to(self.device), y.to(self.device)
            _, bounds = self.rollout_interval(x, y)
            scores.append(conformal.scores(y[..., : self.targets], bounds[..., 0], bounds[..., 1]))
        return conformal.margins(torch.cat(scores), self.coverage)

    @torch.no_grad()
    def predict_next(self, values: list[float]) -> list[float]:
        """The forecast that follows one window of values (original units) of a one-column
        series."""
        x = torch.as_tensor(values, dtype=torch.float32, device=self.device).reshape(1, -1, 1)
        return self(x)[0, :, 0].tolist()

    def naive(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """Last observed value of each target, repeated."""
        return x[:, -1:, : self.targets].repeat(1, steps, 1)

    def seasonal_naive(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """The values one season earlier (season <= window is guaranteed by the spec)."""
        season, window = self.spec.season, x.shape[1]
        index = window - season + torch.arange(steps, device=x.device) % season
        return x[:, index, : self.targets]

    def on_fit_start(self) -> None:
        if self.highway is not None and self.trainer.global_step == 0 and self.trainer.datamodule is not None:
            self.fit_highway(self.trainer.datamodule.train_dataloader())

    @torch.no_grad()
    def fit_highway(self, batches, limit: int = 50_000) -> None:
        """Set the highway to the least-squares autoregression of (up to ``limit``) train
        windows, on the network's scale: each output that locates the forecast (the point,
        the mean, every quantile) gets it; the others (a standard deviation) get 0. The
        network's output layer is set to 0."""
        inputs, wanted, count = [], [], 0
        for x, y in batches:
            x, y = x.to(self.device, torch.float64), y.to(self.device, torch.float64)
            offsets = self.spec.scaling.offsets(x)
            inputs.append(self.spec.scaling.encode(x, offsets).flatten(1))
            wanted.append(self.spec.scaling.encode(self._truth(y), offsets).flatten(1))
            count += len(x)
            if count >= limit:
                break
        design = torch.cat(inputs)
        design = torch.cat([design, torch.ones(len(design), 1, dtype=design.dtype, device=design.device)], 1)
        solution = torch.linalg.lstsq(design, torch.cat(wanted)).solution  # (inputs + 1, horizon * targets)
        params = self.likelihood.params
        weight = torch.zeros_like(self.highway.weight).view(-1, params, design.shape[1] - 1)
        bias = torch.zeros_like(self.highway.bias).view(-1, params)
        for index in self.likelihood.location:
            weight[:, index] = solution[:-1].T
            bias[:, index] = solution[-1]
        self.highway.weight.copy_(weight.flatten(0, 1))
        self.highway.bias.copy_(bias.flatten())
        # the network adds its correction from 0: the model starts as the linear forecast
        nn.init.zeros_(self.net.head.linear.weight)
        nn.init.zeros_(self.net.head.linear.bias)

    # --- steps ------------------------------------------------------------------------------
    def batch_loss(self, batch: Batch, net: nn.Module | None = None) -> torch.Tensor:
        """The training loss of one batch (on the scale the model trains on), with this task's
        network or ``net`` (a copy, maybe in another dtype: the batch follows it)."""
        x, y = batch
        if net is not None:
            dtype = next(net.parameters()).dtype
            x, y = x.to(dtype), y.to(dtype)
        output, offsets = self._outputs(x, net)
        return self.likelihood.loss(output, self.spec.scaling.encode(self._truth(y), offsets))

    def _truth(self, y: torch.Tensor) -> torch.Tensor:
        """The values a forecast is scored against: the targets' next ``horizon`` rows (test
        targets run on for the rollout, and every row holds the covariates too)."""
        return y[:, : self.horizon, : self.targets].contiguous()

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self.batch_loss(batch)
        self.log_train_loss(loss, len(batch[0]))
        return loss

    def _evaluate(self, split: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        truth = self._truth(y)
        output, offsets = self._outputs(x)
        scaled_truth = self.spec.scaling.encode(truth, offsets)
        loss = self.likelihood.loss(output, scaled_truth)
        self.log(
            f"{split}/loss", loss, prog_bar=True, batch_size=len(x), add_dataloader_idx=False, sync_dist=True
        )
        prediction = self.spec.scaling.decode(self.likelihood.point(output), offsets)
        forecasts = {split: prediction, f"{split}_naive": self.naive(x, self.horizon)}
        if self.spec.season is not None:
            forecasts[f"{split}_snaive"] = self.seasonal_naive(x, self.horizon)
        for key, forecast in forecasts.items():
            for metric in self.metrics[key].values():
                metric.update(_per_row(forecast), _per_row(truth))
        if self.likelihood.levels:
            self._score_interval(split, output, offsets, truth, scaled_truth)
        if self.calibrate and split != "val":
            self._score_calibrated(split, output, offsets, prediction, truth)
        return prediction

    def _score_calibrated(self, split, output, offsets, prediction, truth) -> None:
        """Whether the truth fell in the conformal interval, and its width."""
        bounds = self._bounds(output, offsets, prediction)
        lower, upper = bounds[..., 0] - self.margins, bounds[..., 1] + self.margins
        scores = self.metrics[f"{split}_interval"]
        scores["coverage_conformal"].update(((truth >= lower) & (truth <= upper)).float())
        scores["width_conformal"].update(upper - lower)

    def _score_interval(self, split, output, offsets, truth, scaled_truth) -> None:
        """Pinball loss and CRPS in original units, and whether the truth fell between the
        outer quantiles."""
        scores = self.metrics[f"{split}_interval"]
        quantiles = self._decoded_quantiles(output, offsets)
        levels = quantiles.new_tensor(self.likelihood.levels)
        scores["pinball"].update(pinball(quantiles, truth, levels).mean(dim=-1))
        inside = (truth >= quantiles[..., 0]) & (truth <= quantiles[..., -1])
        scores["coverage"].update(inside.float())
        scores["width"].update(quantiles[..., -1] - quantiles[..., 0])
        if "crps" in scores:  # the CRPS scales with the values: back to original units
            scale = truth.new_tensor(self.spec.scaling.scale[: self.targets])
            scores["crps"].update(self.likelihood.crps(output, scaled_truth) * scale)

    def _log_split(self, split: str) -> None:
        for key, prefix in ((split, ""), (f"{split}_naive", "naive_"), (f"{split}_snaive", "snaive_")):
            for name, metric in self.metrics[key].items() if key in self.metrics else ():
                values = metric.compute().reshape(-1)  # one per target
                self.log(f"{split}/{prefix}{name}", values.mean(), sync_dist=True)
                if len(values) > 1:
                    for target, value in zip(self.spec.targets, values, strict=True):
                        self.log(f"{split}/{prefix}{name}_{target}", value, sync_dist=True)
                metric.reset()
        for name, metric in (
            self.metrics[f"{split}_interval"].items() if f"{split}_interval" in self.metrics else ()
        ):
            self.log(f"{split}/{name}", metric.compute(), sync_dist=True)
            metric.reset()
        for name, value in self.spec.baselines.get(split, {}).items():
            self.log(f"{split}/{name}", float(value))

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate("val", *batch)

    def on_validation_epoch_end(self) -> None:
        self._log_split("val")

    def on_test_epoch_start(self) -> None:
        if self.calibrate:  # from the validation windows, with the weights being tested
            datamodule = self.trainer.datamodule
            self.margins = self.calibration_margins(datamodule.val_dataloader())

    def test_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        split = self.spec.test_splits[dataloader_idx]
        x, y = batch
        self.per_step[split].update(_per_step(self._evaluate(split, x, y)), _per_step(self._truth(y)))
        future = y[:, : self.rollout_steps]
        truth = future[..., : self.targets].contiguous()
        rollout = self.rollout(x, future)
        self.per_step[f"{split}_rollout"].update(_per_step(rollout), _per_step(truth))
        self.per_step[f"{split}_rollout_naive"].update(self.naive(x, self.rollout_steps), truth)
        if self.spec.integer_targets:
            self.per_step[f"{split}_rollout_exact"].update(rollout[..., 0], truth[..., 0])

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
            if "ar_mse" in self.spec.baselines.get(split, {}):
                names.append(f"{split}/ar_mse")
            if self.likelihood.levels:
                names += [f"{split}/pinball", f"{split}/coverage"]
            if self.calibrate:
                names.append(f"{split}/coverage_conformal")
            if self.spec.integer_targets:
                names.append(f"{split}/exact")
        return names
