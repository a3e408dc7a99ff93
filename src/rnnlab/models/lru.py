"""The Linear Recurrent Unit (Orvieto et al. 2023, "Resurrecting Recurrent Neural Networks
for Long Sequences"): a linear recurrence with a diagonal complex state matrix, the
parameterization that lets it learn long memories stably.

    x_k = diag(lambda) x_{k-1} + gamma * (B u_k)        y_k = Re(C x_k) + D * u_k

with u_k, y_k of ``width`` real features and x_k of ``state_size`` complex ones. Each
eigenvalue is lambda_j = exp(-exp(nu_j) + i exp(theta_j)): whatever the optimizer does to
nu and theta, |lambda_j| = exp(-exp(nu_j)) stays below 1 (the recurrence cannot blow up).
At initialization the lambda_j are uniform on the ring r_min <= |lambda| <= r_max with
phases in [0, max_phase] (the paper's ring initialization; r_max near 1 is a long
memory), and gamma_j = sqrt(1 - |lambda_j|^2) normalizes the state so that its size does
not depend on how close |lambda_j| is to 1 (a white-noise input keeps unit variance).
gamma is a parameter, as in the paper's code. B and C are complex (Glorot-like normal
initialization), D real.

Complex numbers are kept as real and imaginary parts (float parameters, so ``.double()``
and the optimizers see plain tensors); the state is a complex tensor. Training runs the
recurrence by a parallel scan (models/blocks.py:linear_scan); the step mode is the line
above, and the tests hold the two equal. The paper's block (normalization, the LRU, an MLP,
a skip connection) is the residual stack of models/blocks.py.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from rnnlab.declared import Annotated, Field, declared
from rnnlab.errors import ConfigError
from rnnlab.models.blocks import Mixer, ResidualStack, linear_scan
from rnnlab.models.net import SequenceNet


class LRU(Mixer):
    def __init__(self, width: int, state_size: int, r_min: float, r_max: float, max_phase: float) -> None:
        super().__init__()
        self.state_size = 2 * state_size  # complex x
        # ring initialization: |lambda|^2 uniform in [r_min^2, r_max^2], the phase in [0, max_phase]
        radius = torch.sqrt(torch.rand(state_size) * (r_max**2 - r_min**2) + r_min**2)
        self.nu_log = nn.Parameter(torch.log(-torch.log(radius)))
        self.theta_log = nn.Parameter(torch.log(max_phase * torch.rand(state_size).clamp_min(1e-4)))
        self.gamma_log = nn.Parameter(0.5 * torch.log1p(-(radius**2)))
        scale_b, scale_c = 1 / math.sqrt(2 * width), 1 / math.sqrt(state_size)
        self.B_re = nn.Parameter(torch.randn(state_size, width) * scale_b)
        self.B_im = nn.Parameter(torch.randn(state_size, width) * scale_b)
        self.C_re = nn.Parameter(torch.randn(width, state_size) * scale_c)
        self.C_im = nn.Parameter(torch.randn(width, state_size) * scale_c)
        self.D = nn.Parameter(torch.randn(width))

    def _lambda(self) -> torch.Tensor:
        return torch.polar(torch.exp(-torch.exp(self.nu_log)), torch.exp(self.theta_log))

    def _input(self, u: torch.Tensor) -> torch.Tensor:
        """gamma * (B u), complex, for real u of any leading shape."""
        gamma = torch.exp(self.gamma_log)
        return torch.complex(u @ self.B_re.T, u @ self.B_im.T) * gamma

    def _output(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Re(C x) + D * u."""
        return x.real @ self.C_re.T - x.imag @ self.C_im.T + self.D * u

    def scan(self, u: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        b = self._input(u)
        x = linear_scan(self._lambda().expand_as(b), b, state)
        return self._output(x, u), x[:, -1]

    def step(self, u_t: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._input(u_t) if state is None else self._lambda() * state + self._input(u_t)
        return self._output(x, u_t), x


class LRUNet(SequenceNet):
    """A SequenceNet (models/net.py) whose backbone is a residual stack of LRU layers.
    ``state_size`` complex state features per layer (null: the hidden size)."""

    @declared
    def __init__(
        self,
        state_size: Annotated[
            int, Field(ge=1, description="complex state features per layer; null: the width")
        ]
        | None = None,
        r_min: Annotated[
            float, Field(ge=0, lt=1, description="the ring the eigenvalues start on: r_min <= |lambda|")
        ] = 0.4,
        r_max: Annotated[
            float, Field(ge=0, lt=1, description="|lambda| <= r_max (closer to 1: longer memory)")
        ] = 0.99,
        max_phase: Annotated[
            float,
            Field(
                gt=0,
                le=2 * math.pi,
                description="eigenvalue phases start in [0, max_phase]",
                json_schema_extra={"allowed": "a number in (0, 2 pi]"},
            ),
        ] = 2 * math.pi,
        **settings,
    ) -> None:
        if r_min >= r_max:
            raise ConfigError(
                "r_min", f"below r_max ({r_max}): the ring is r_min <= |lambda| <= r_max", r_min
            )

        def mixer(width: int) -> LRU:
            return LRU(width, state_size or width, r_min, r_max, max_phase)

        super().__init__(partial(ResidualStack, mixer), **settings)
