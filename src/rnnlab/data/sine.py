"""A synthetic series: a sum of sines plus Gaussian noise, generated from a seed."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rnnlab.data.series import Frame, SeriesDataModule
from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError


class SineDataModule(SeriesDataModule):
    """x_t = sum_k a_k sin(2 pi t / p_k + phi_k) + noise_t, noise ~ N(0, noise^2).

    ``seed`` draws the noise (and, as for every data module, the batch order).

    When every period is a whole number of steps the series repeats every lcm(periods)
    steps; that is the season used by the seasonal naive baseline.
    """

    @declared
    def __init__(
        self,
        length: Annotated[int, Field(ge=2, description="steps in the series")] = 4000,
        periods: Annotated[
            Sequence[Annotated[float, Field(gt=0)]],
            Field(
                min_length=1,
                description="each tone's period in steps",
                json_schema_extra={"allowed": "a non-empty list of positive numbers"},
            ),
        ] = (30.0, 12.0),
        amplitudes: Annotated[Sequence[float], Field(description="each tone's amplitude")] = (1.0, 0.5),
        phases: Annotated[Sequence[float], Field(description="each tone's phase in radians")] = (0.0, 1.0),
        noise: Annotated[
            float,
            Field(
                ge=0,
                description="the Gaussian noise's standard deviation",
                json_schema_extra={"allowed": "a standard deviation >= 0"},
            ),
        ] = 0.05,
        **kwargs,
    ) -> None:
        self.length = length
        self.periods = [float(p) for p in periods]
        self.amplitudes = [float(a) for a in amplitudes]
        self.phases = [float(p) for p in phases]
        if len(self.amplitudes) != len(self.periods) or len(self.phases) != len(self.periods):
            raise ConfigError(
                "amplitudes",
                f"a list as long as periods ({len(self.periods)}), as must phases",
                list(amplitudes),
            )
        self.noise = float(noise)
        if all(p.is_integer() for p in self.periods):
            kwargs.setdefault("season", math.lcm(*(int(p) for p in self.periods)))
        super().__init__(**kwargs)

    size_setting = "length"

    def planned_bytes(self) -> int:
        """The series (float64), and its windows of inputs and targets (float32) in every split."""
        return self.length * 8 + self.length * (self.window + self.rollout_steps) * 4

    def load_frame(self) -> Frame:
        t = np.arange(self.length, dtype=np.float64)
        series = np.zeros(self.length)
        for period, amplitude, phase in zip(self.periods, self.amplitudes, self.phases, strict=True):
            series += amplitude * np.sin(2 * math.pi * t / period + phase)
        noise = np.random.default_rng(self.seed).normal(0.0, self.noise, self.length)
        return Frame((series + noise)[:, None])
