"""Split conformal intervals: widen or narrow a forecast's interval, per step ahead and
target, until it holds its coverage on windows the model did not train on.

The nonconformity score of a window is how far the truth fell outside the raw interval
(negative inside it): max(lower - y, y - upper), the conformalized quantile regression of
Romano, Patterson & Candes (2019). A point forecast is an interval of width 0, so its score
is the absolute error. With n calibration scores, the margin is the
ceil((n + 1) * coverage)-th smallest (the finite-sample correction), and the calibrated
interval is [lower - margin, upper + margin]: it covers a new window with probability at
least ``coverage`` when the windows are exchangeable. Sliding windows of one series
overlap and drift, so that guarantee is approximate; the test split measures it.
"""

from __future__ import annotations

import math

import torch


def scores(truth: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """How far each truth lies outside its interval, (windows, steps, targets)."""
    return torch.maximum(lower - truth, truth - upper)


def margins(calibration: torch.Tensor, coverage: float) -> torch.Tensor:
    """The margin per step and target, (steps, targets), from the calibration windows'
    scores (windows, steps, targets): inf where too few windows support the coverage."""
    count = calibration.shape[0]
    rank = math.ceil((count + 1) * coverage)
    if rank > count:
        return torch.full(calibration.shape[1:], math.inf, dtype=calibration.dtype)
    return calibration.sort(dim=0).values[rank - 1]


def coverage_of(levels: tuple[float, ...]) -> float:
    """The coverage an interval between the outer quantile levels aims at (0.1, 0.9: 0.8)."""
    return levels[-1] - levels[0]
