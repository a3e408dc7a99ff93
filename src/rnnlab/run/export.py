"""A trained forecaster for use without rnnlab (rnnlab-export).

The exported program takes a window in the data's own units, (batch, window, columns):
the targets' columns first, then the covariates', as model.json names them; the scaling
fitted on the run's train split is inside it. It returns the forecast (batch, horizon,
targets) and the interval (batch, horizon, targets, 2: lower, upper) at the run's outer
quantile levels (for a point forecast both bounds are the forecast). ``torch``:
a torch.export program, read with ``torch.export.load(path).module()``; ``onnx``: an ONNX
model (the ``onnx`` extra), checked in onnxruntime before it is kept.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnlab.errors import ConfigError, first_line
from rnnlab.tasks.regression import SequenceRegressor

# what an export must reproduce of rnnlab's own forecast (float32, the same operations)
TOLERANCE = 1e-4


class Forecaster(nn.Module):
    """The task's forecast with its scaling, as one module of tensors in, tensors out."""

    def __init__(self, task: SequenceRegressor) -> None:
        super().__init__()
        self.task = task

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.task.forecast_interval(window)


def example_windows(task: SequenceRegressor, window: int, count: int = 4) -> torch.Tensor:
    """Windows on the data's scale (its training mean and spread), to trace and check with."""
    scaling = task.spec.scaling
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(count, window, len(scaling.offset), generator=generator)
    return noise * torch.tensor(scaling.scale) + torch.tensor(scaling.offset)


def export(task: SequenceRegressor, config, folder: Path, fmt: str, family: str) -> dict[str, Any]:
    """Write model.pt2 or model.onnx and model.json into ``folder``; returns model.json's
    contents. A model that does not export is a ConfigError saying why."""
    window = int(config.data.window)
    module = Forecaster(task.eval()).eval()
    for parameter in module.parameters():  # a program for inference: callable without no_grad
        parameter.requires_grad_(False)
    examples = example_windows(task, window)
    with torch.no_grad():
        expected = module(examples)
    batch = torch.export.Dim("batch", min=1)
    path = folder / ("model.pt2" if fmt == "torch" else "model.onnx")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # nn.LSTM and nn.GRU re-read their flat weights while traced: harmless, and not ours
            warnings.filterwarnings("ignore", message="The tensor attributes .* were assigned during export")
            program = torch.export.export(module, (examples,), dynamic_shapes={"window": {0: batch}})
    except Exception as error:  # torch.export's reasons are many; the first line says which
        raise ConfigError(
            "run", "a forecaster whose network torch.export can trace", family, first_line(error)
        ) from None
    if fmt == "torch":
        torch.export.save(program, path)
        got = torch.export.load(path).module()(examples)
    else:
        got = _onnx(program, examples, path)
    _check_same(expected, got, fmt)
    about = describe(task, config, path.name, fmt)
    (folder / "model.json").write_text(json.dumps(about, indent=2) + "\n")
    return about


def _onnx(program, examples: torch.Tensor, path: Path) -> tuple[torch.Tensor, ...]:
    """The program as ONNX, and its outputs on ``examples`` in onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "format", "torch, or onnx with its extra installed: pip install 'rnnlab[onnx]'", "onnx"
        ) from None
    for name in ("onnx_ir", "onnxscript"):  # their passes log each step at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    # torch's ONNX registry warns that torchvision (not a dependency) is missing
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():  # the exporter's own deprecations, not the user's
            warnings.simplefilter("ignore", FutureWarning)
            torch.onnx.export(
                program, (examples,), str(path), input_names=["window"],
                output_names=["forecast", "interval"], dynamo=True, verbose=False, report=False,
            )  # fmt: skip
    except Exception as error:
        raise ConfigError(
            "format", "torch for this model (ONNX refused it)", "onnx", _reason(error)
        ) from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return tuple(torch.from_numpy(out) for out in session.run(None, {"window": examples.numpy()}))


def _reason(error: BaseException) -> str:
    """The innermost cause's first line, without the terminal colours the exporter adds."""
    import re

    while error.__cause__ is not None:
        error = error.__cause__
    return re.sub(r"\x1b\[[0-9;]*m", "", first_line(error))


def _check_same(expected, got, fmt: str) -> None:
    for name, want, have in zip(("forecast", "interval"), expected, got, strict=True):
        error = (want - have).abs().max().item()
        if not error <= TOLERANCE * max(1.0, want.abs().max().item()):
            raise ConfigError(
                "format", f"a format that reproduces rnnlab's {name}", fmt, f"it differs by {error:.3g}"
            )


def describe(task: SequenceRegressor, config, file: str, fmt: str) -> dict[str, Any]:
    """model.json: what goes in, what comes out, and how the data was scaled."""
    spec, data = task.spec, config.data
    columns = list(spec.targets) + [str(name) for name in (data.get("covariates") or [])]
    if len(columns) != spec.input_size:  # generated data (sine): its one column
        columns = list(spec.targets)
    levels = list(task.likelihood.levels)
    return {
        "format": fmt,
        "file": file,
        "load": "torch.export.load(file).module()"
        if fmt == "torch"
        else "onnxruntime.InferenceSession(file)",
        "input": {"name": "window", "shape": ["batch", int(data.window), len(columns)], "dtype": "float32"},
        "columns": columns,
        "targets": list(spec.targets),
        "window": int(data.window),
        "horizon": task.horizon,
        "outputs": {
            "forecast": ["batch", task.horizon, len(spec.targets)],
            "interval": ["batch", task.horizon, len(spec.targets), 2],
        },
        "interval": (
            {"levels": [levels[0], levels[-1]], "coverage": task.coverage}
            if levels
            else None  # a point forecast: both bounds are the forecast
        ),
        "scaling": {
            "mode": spec.scaling.mode,
            "offset": list(spec.scaling.offset),
            "scale": list(spec.scaling.scale),
            "applied": "inside the program: give it values in the data's units",
        },
        "time_column": data.get("time_column"),
    }
