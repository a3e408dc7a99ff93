"""The linear autoregressive baseline every forecast is scored beside."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rnnlab.data.spec import Scaling


def linear_autoregression(
    windows: dict[str, tuple[torch.Tensor, torch.Tensor]],
    scaling: Scaling,
    targets: Sequence[str],
    horizon: int,
) -> dict[str, dict[str, float]]:
    """The baseline a forecaster must beat before an RNN earns its cost: each of the next
    ``horizon`` values of each target as an affine function of the whole window (every
    column, covariates included: an AR(X) model of order ``window``, one per step ahead),
    fitted by least squares on the train windows, on the scale the network sees.

    Returns, for every split but train, its mean squared and absolute error in original
    units (``ar_mse``, ``ar_mae``), per target when there are several (``ar_mse_<name>``)
    and, on the test splits, per step ahead (``ar_mse_step<k>``): the names the task logs
    its own errors by.
    """
    count = len(targets)
    offset, scale = np.asarray(scaling.offset), np.asarray(scaling.scale)

    def features(x: torch.Tensor) -> np.ndarray:
        scaled = (x.double().numpy() - offset) / scale
        return np.hstack([scaled.reshape(len(x), -1), np.ones((len(x), 1))])

    x, y = windows["train"]
    wanted = (y[:, :horizon, :count].double().numpy() - offset[:count]) / scale[:count]
    weights = np.linalg.lstsq(features(x), wanted.reshape(len(y), -1), rcond=None)[0]
    scores = {}
    for split, (x, y) in windows.items():
        if split == "train":
            continue
        truth = y[:, :horizon, :count].double().numpy()
        forecast = (features(x) @ weights).reshape(truth.shape) * scale[:count] + offset[:count]
        errors = forecast - truth
        split_scores = {"ar_mse": float(np.mean(errors**2)), "ar_mae": float(np.mean(np.abs(errors)))}
        if count > 1:
            for name, column in zip(targets, np.moveaxis(errors, -1, 0), strict=True):
                split_scores[f"ar_mse_{name}"] = float(np.mean(column**2))
                split_scores[f"ar_mae_{name}"] = float(np.mean(np.abs(column)))
        if split != "val":
            for step, values in enumerate(np.moveaxis(errors, 1, 0), start=1):
                split_scores[f"ar_mse_step{step}"] = float(np.mean(values**2))
        scores[split] = split_scores
    return scores
