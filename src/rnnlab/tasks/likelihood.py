"""What a forecaster's outputs mean: a point forecast, a Gaussian, or a set of quantiles.

The network gives ``params`` numbers for every forecast value (step ahead x target) on the
scale it trains on; a likelihood turns them into the training loss, a point forecast and
quantiles. ``task.likelihood`` picks one (null, gaussian, quantile) and ``task.quantiles``
the levels whose outer pair is the interval scored and drawn (0.1 and 0.9: the 80% one).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rnnlab.errors import ConfigError

LIKELIHOODS = ("gaussian", "quantile")
QUANTILES = (0.1, 0.5, 0.9)


class Likelihood:
    """The outputs as they are: one number per value, the point forecast, trained by MSE.

    ``levels`` are the quantile levels of the interval a probabilistic likelihood forecasts
    (empty here: a point forecast has none)."""

    params = 1
    location: tuple[int, ...] = (0,)  # the outputs that move with the forecast's level
    levels: tuple[float, ...] = ()
    closed_form_crps = False  # crps() gives a number

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training loss of ``output`` (..., params) against ``target`` (...), both on the
        network's scale."""
        return F.mse_loss(output[..., 0], target)

    def point(self, output: torch.Tensor) -> torch.Tensor:
        """The point forecast (...)."""
        return output[..., 0]

    def quantiles(self, output: torch.Tensor) -> torch.Tensor:
        """The forecast's quantiles at ``levels``, (..., len(levels)), increasing."""
        raise NotImplementedError(f"{type(self).__name__} forecasts no quantiles")

    def crps(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The continuous ranked probability score of each value, on the network's scale,
        where it has a closed form (``closed_form_crps``)."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form CRPS")


class Gaussian(Likelihood):
    """A mean and a standard deviation per value (softplus keeps it positive), trained by
    the Gaussian negative log-likelihood, as DeepAR does."""

    params = 2
    closed_form_crps = True

    def __init__(self, levels: Sequence[float]) -> None:
        self.levels = tuple(levels)

    def _moments(self, output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return output[..., 0], F.softplus(output[..., 1]) + 1e-4

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mean, std = self._moments(output)
        return F.gaussian_nll_loss(mean, target, std**2, full=True)

    def point(self, output: torch.Tensor) -> torch.Tensor:
        return output[..., 0]

    def quantiles(self, output: torch.Tensor) -> torch.Tensor:
        mean, std = self._moments(output)
        z = torch.special.ndtri(output.new_tensor(self.levels))
        return mean[..., None] + std[..., None] * z

    def crps(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # closed form for N(mean, std^2) (Gneiting and Raftery 2007, eq. 21)
        mean, std = self._moments(output)
        z = (target - mean) / std
        pdf = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
        return std * (z * torch.erf(z / math.sqrt(2)) + 2 * pdf - 1 / math.sqrt(math.pi))


class Quantiles(Likelihood):
    """One output per quantile level, trained by the pinball loss averaged over the levels
    (the MQ-RNN loss); the point forecast is the median. Quantiles that cross are put in
    order when read (monotone rearrangement), the training loss sees them as they are."""

    def __init__(self, levels: Sequence[float]) -> None:
        self.levels = tuple(levels)
        self.params = len(self.levels)
        self.location = tuple(range(self.params))
        self.median = self.levels.index(0.5)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return pinball(output, target, output.new_tensor(self.levels)).mean()

    def point(self, output: torch.Tensor) -> torch.Tensor:
        return self.quantiles(output)[..., self.median]

    def quantiles(self, output: torch.Tensor) -> torch.Tensor:
        return output.sort(dim=-1).values


def pinball(quantiles: torch.Tensor, target: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """The pinball (quantile) loss of each quantile forecast (..., Q) of ``target`` (...)."""
    error = target[..., None] - quantiles
    return torch.maximum(levels * error, (levels - 1) * error)


def build_likelihood(name: str | None, levels: Sequence[float] | None = QUANTILES) -> Likelihood:
    """The likelihood ``task.likelihood`` names, with the levels of ``task.quantiles``."""
    if name is None:
        return Likelihood()
    if name not in LIKELIHOODS:
        raise ConfigError("task.likelihood", "null (a point forecast), gaussian or quantile", name)
    levels = check_levels(levels)
    return Gaussian(levels) if name == "gaussian" else Quantiles(levels)


def check_levels(levels) -> tuple[float, ...]:
    """Increasing levels in (0, 1) that hold the median and one on each side of it."""
    allowed = "increasing levels in (0, 1) that include 0.5 and one on each side, e.g. [0.1, 0.5, 0.9]"
    try:
        numbers = tuple(float(level) for level in levels if not isinstance(level, bool))
    except (TypeError, ValueError):
        raise ConfigError("task.quantiles", allowed, levels) from None
    if (
        len(numbers) != len(levels)
        or 0.5 not in numbers
        or not all(0 < low < high < 1 for low, high in itertools.pairwise(numbers))
        or not 0 < numbers[0] < 0.5 < numbers[-1] < 1
    ):
        raise ConfigError("task.quantiles", allowed, list(levels))
    return numbers
