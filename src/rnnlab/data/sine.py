"""A synthetic series: a sum of sines plus Gaussian noise, generated from a seed."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rnnlab.data.series import Frame, SeriesDataModule
from rnnlab.errors import ConfigError, check_int


class SineDataModule(SeriesDataModule):
    """x_t = sum_k a_k sin(2 pi t / p_k + phi_k) + noise_t, noise ~ N(0, noise^2).

    ``seed`` draws the noise (and, as for every data module, the batch order).

    When every period is a whole number of steps the series repeats every lcm(periods)
    steps; that is the season used by the seasonal naive baseline.
    """

    def __init__(
        self,
        length: int = 4000,
        periods: Sequence[float] = (30.0, 12.0),
        amplitudes: Sequence[float] = (1.0, 0.5),
        phases: Sequence[float] = (0.0, 1.0),
        noise: float = 0.05,
        **kwargs,
    ) -> None:
        self.length = check_int("length", length, 2)
        self.periods = [float(p) for p in periods]
        self.amplitudes = [float(a) for a in amplitudes]
        self.phases = [float(p) for p in phases]
        if not self.periods or any(p <= 0 for p in self.periods):
            raise ConfigError("periods", "a non-empty list of positive numbers", list(periods))
        if len(self.amplitudes) != len(self.periods) or len(self.phases) != len(self.periods):
            raise ConfigError(
                "amplitudes",
                f"a list as long as periods ({len(self.periods)}), as must phases",
                list(amplitudes),
            )
        if noise < 0:
            raise ConfigError("noise", "a standard deviation >= 0", noise)
        self.noise = float(noise)
        if all(p.is_integer() for p in self.periods):
            kwargs.setdefault("season", math.lcm(*(int(p) for p in self.periods)))
        super().__init__(**kwargs)

    def load_frame(self) -> Frame:
        t = np.arange(self.length, dtype=np.float64)
        series = np.zeros(self.length)
        for period, amplitude, phase in zip(self.periods, self.amplitudes, self.phases, strict=True):
            series += amplitude * np.sin(2 * math.pi * t / period + phase)
        noise = np.random.default_rng(self.seed).normal(0.0, self.noise, self.length)
        return Frame((series + noise)[:, None])
