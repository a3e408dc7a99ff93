"""Forecasting a user's series: likelihoods, intervals that cover what they claim, several
targets with covariates, and the baselines beside them."""

import dataclasses
import functools
import math
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from rnnlab.data.csv_series import CsvSeriesDataModule
from rnnlab.data.sine import SineDataModule
from rnnlab.errors import ConfigError
from rnnlab.models.net import RecurrentNet
from rnnlab.tasks.likelihood import Gaussian, Likelihood, Quantiles, build_likelihood, pinball
from rnnlab.tasks.regression import SequenceRegressor
from tests.tasks.training import fit_and_test

ROOT = Path(__file__).resolve().parents[2]


def _fit(data, likelihood: Likelihood, epochs: int, tmp_path, hidden_size=32, lr=1e-2, seed=0) -> dict:
    """Train an LSTM on ``data`` with ``likelihood`` and return its test metrics."""
    L.seed_everything(seed, workers=True)
    data.setup("fit")
    spec = data.spec
    net = RecurrentNet(
        "lstm",
        input_size=spec.input_size,
        output_size=spec.output_size * likelihood.params,
        hidden_size=hidden_size,
    )
    task = SequenceRegressor(net, spec, likelihood, optimizer=functools.partial(torch.optim.Adam, lr=lr))
    return fit_and_test(task, data, epochs, tmp_path)


def _normal_cdf(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf((x - mean) / (std * math.sqrt(2))))


def test_the_gaussian_crps_is_the_integral_it_stands_for():
    """CRPS(F, y) = integral of (F(x) - [x >= y])^2 dx, integrated numerically in float64:
    F^2 below the observation and (1 - F)^2 above it, smooth on each side."""
    output = torch.tensor([[0.3, 0.2], [-1.0, 1.5], [2.0, -2.0]], dtype=torch.float64)
    target = torch.tensor([0.0, 1.0, 2.5], dtype=torch.float64)
    likelihood = Gaussian((0.1, 0.5, 0.9))
    mean, std = output[:, 0], torch.nn.functional.softplus(output[:, 1]) + 1e-4
    expected = []
    for m, s, y in zip(mean, std, target, strict=True):
        below = torch.linspace(-60, float(y), 200_001, dtype=torch.float64)
        above = torch.linspace(float(y), 60, 200_001, dtype=torch.float64)
        expected.append(
            torch.trapezoid(_normal_cdf(below, m, s) ** 2, below)
            + torch.trapezoid((1 - _normal_cdf(above, m, s)) ** 2, above)
        )
    assert torch.allclose(likelihood.crps(output, target), torch.stack(expected), atol=1e-7)
    normal = torch.distributions.Normal(mean[:, None], std[:, None])
    levels = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    assert torch.allclose(likelihood.quantiles(output), normal.icdf(levels), atol=1e-9)


def test_the_pinball_loss_and_crossing_quantiles():
    levels = torch.tensor([0.1, 0.5, 0.9])
    quantiles = torch.tensor([[1.0, 2.0, 3.0]])
    # below every quantile: (1 - level) x distance; above: level x distance
    assert pinball(quantiles, torch.tensor([0.0]), levels)[0].tolist() == pytest.approx([0.9, 1.0, 0.3])
    assert pinball(quantiles, torch.tensor([4.0]), levels)[0].tolist() == pytest.approx([0.3, 1.0, 0.9])
    crossed = Quantiles((0.1, 0.5, 0.9))
    output = torch.tensor([[3.0, 1.0, 2.0]])
    assert crossed.quantiles(output).tolist() == [[1.0, 2.0, 3.0]] and crossed.point(output).item() == 2.0


@pytest.mark.parametrize(
    ("name", "levels", "message"),
    [
        (
            "poisson",
            (0.1, 0.5, 0.9),
            "task.likelihood must be null (a point forecast), gaussian or quantile",
        ),
        ("quantile", (0.1, 0.9), "task.quantiles must be increasing levels in (0, 1) that include 0.5"),
        ("quantile", (0.5, 0.9), "task.quantiles must be increasing levels in (0, 1) that include 0.5"),
        ("gaussian", (0.9, 0.5, 0.1), "task.quantiles must be increasing levels"),
        ("quantile", (0.0, 0.5, 1.0), "task.quantiles must be increasing levels"),
        ("quantile", ("a", 0.5), "task.quantiles must be increasing levels"),
        ("quantile", 0.5, "task.quantiles must be increasing levels"),
    ],
)
def test_bad_likelihood_settings_are_one_line(name, levels, message):
    with pytest.raises(ConfigError) as error:
        build_likelihood(name, levels)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("name", ["quantile", pytest.param("gaussian", marks=pytest.mark.slow)])
def test_the_80_percent_interval_covers_80_percent_of_a_series_with_known_noise(tmp_path, name, seed, figure):
    """A sine under Gaussian noise of standard deviation 0.3: the best forecast's 80% interval
    is +-1.28 x 0.3 around the sine, and held-out data falls inside it 80% of the time."""
    data = SineDataModule(
        length=3000, periods=[24.0], amplitudes=[1.0], phases=[0.0], noise=0.3, window=24, horizon=2,
        rollout_steps=4, batch_size=64, seed=seed,
    )  # fmt: skip
    metrics = _fit(data, build_likelihood(name), epochs=8, tmp_path=tmp_path, seed=seed)
    assert abs(figure("test/coverage", metrics["test/coverage"]) - 0.8) < 0.05
    # the noise's variance is the floor: 0.98-1.14 of it over seeds 0-2 and both likelihoods
    assert figure("test/mse over noise variance", metrics["test/mse"] / 0.3**2) < 1.4
    assert metrics["test/pinball"] > 0 and ("test/crps" in metrics) == (name == "gaussian")
    # the interval's width: 2 x 1.2816 x 0.3 = 0.77 for the true noise
    assert metrics["test/ar_mse"] < 1.3 * 0.3**2  # a linear model does as well here: it is a sine


def _load_csv(tmp_path, hours=3000):
    path = tmp_path / "load.csv"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_load_csv.py"), str(path), "--hours", str(hours)],
        check=True,
        capture_output=True,
    )
    return path


@pytest.mark.slow
def test_a_temperature_covariate_lowers_the_load_forecast_error(tmp_path, seed, figure):
    """scripts/make_load_csv.py: the load answers the temperature of 3 hours before, on
    whichever side of 18 degrees; reading it as a covariate must cut the test MSE by 20%+."""
    path = _load_csv(tmp_path)
    settings = {"target": "load", "window": 24, "horizon": 4, "rollout_steps": 8, "batch_size": 64}
    scores = {}
    for covariates in ([], ["temperature"]):
        data = CsvSeriesDataModule(path=str(path), covariates=covariates, time_column="time", **settings)
        scores[bool(covariates)] = _fit(data, Likelihood(), epochs=8, tmp_path=tmp_path, seed=seed)
    without, with_ = scores[False]["test/mse"], scores[True]["test/mse"]
    assert figure("mse with over without", with_ / without) < 0.8
    assert figure("mse over ar_mse", with_ / scores[True]["test/ar_mse"]) < 1  # the RNN earns its cost


def test_several_targets_are_scored_each_in_their_own_units(tmp_path, write_csv):
    """Two targets on scales 1000x apart and a covariate: per-target metrics, each in its
    units, their mean as the headline, and the linear baseline's beside them."""
    rng = np.random.default_rng(0)
    t = np.arange(1200)
    driver = np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(1200)
    path = write_csv(
        {
            "small": list(np.sin(2 * np.pi * t / 12) + 0.05 * rng.standard_normal(1200)),
            "large": list(1000 * np.cos(2 * np.pi * t / 24) + 20 * rng.standard_normal(1200)),
            "driver": list(driver),
        }
    )
    data = CsvSeriesDataModule(
        path=str(path), target=["small", "large"], covariates=["driver"], window=24, horizon=3,
        rollout_steps=6, batch_size=64,
    )  # fmt: skip
    metrics = _fit(data, build_likelihood("quantile"), epochs=3, tmp_path=tmp_path)
    assert metrics["test/mse"] == pytest.approx((metrics["test/mse_small"] + metrics["test/mse_large"]) / 2)
    assert metrics["test/mse_large"] > 100 * metrics["test/mse_small"]  # original units, not scaled
    for key in ("test/ar_mse_small", "test/ar_mse_large", "test/naive_mae_large", "test/coverage"):
        assert key in metrics
    assert [f"test_rollout/mse_step{k}" in metrics for k in range(1, 7)] == [True] * 6


@pytest.mark.parametrize("name", [None, "gaussian", "quantile"])
def test_the_highway_starts_as_the_linear_autoregression(name):
    """Fitted before training, the highway and a network whose output layer starts at 0
    forecast exactly the linear AR baseline the data module scores: the same least squares
    on the same windows."""
    data = SineDataModule(
        length=600, periods=[24.0, 7.0], amplitudes=[1.0, 0.5], phases=[0.0, 1.0], noise=0.2, window=12,
        horizon=3, rollout_steps=4, batch_size=64, seed=0,
    )  # fmt: skip
    data.setup("fit")
    likelihood = build_likelihood(name)
    net = RecurrentNet("lstm", input_size=1, output_size=3 * likelihood.params, hidden_size=4)
    task = SequenceRegressor(net, data.spec, likelihood, highway=True, optimizer=torch.optim.Adam)
    task.fit_highway(data.train_dataloader())
    assert not any(parameter.requires_grad for parameter in task.highway.parameters())
    x, y = data.datasets["val"].tensors
    with torch.no_grad():
        forecast = task(x.float())
    mse = torch.mean((forecast.double() - y[:, :3, :1].double()) ** 2).item()
    assert mse == pytest.approx(data.baselines["val"]["ar_mse"], rel=1e-4)
    if name == "gaussian":  # the spread is the network's to learn: the highway leaves it at 0
        assert torch.count_nonzero(task.highway.weight.view(3, 2, 12)[:, 1]) == 0


def test_a_highway_needs_a_forecast_with_a_fixed_window():
    data = SineDataModule(length=300, window=12, horizon=3, rollout_steps=4)
    data.setup("fit")
    spec = dataclasses.replace(data.spec, window=None)
    net = RecurrentNet("lstm", input_size=1, output_size=3, hidden_size=4)
    with pytest.raises(ConfigError, match=r"task.highway must be false for data without a fixed window"):
        SequenceRegressor(net, spec, highway=True, optimizer=torch.optim.Adam)
