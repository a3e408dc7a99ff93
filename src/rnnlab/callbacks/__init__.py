"""Callbacks: what a researcher looks at in TensorBoard, and what keeps runs safe."""

from rnnlab.callbacks.forecast_plot import ForecastPlot
from rnnlab.callbacks.run_config import RunConfigCheckpoint
from rnnlab.callbacks.safety import DivergenceGuard, GracefulInterrupt, TrainingDiverged
from rnnlab.callbacks.text_sample import TextSample

__all__ = [
    "DivergenceGuard",
    "ForecastPlot",
    "GracefulInterrupt",
    "RunConfigCheckpoint",
    "TextSample",
    "TrainingDiverged",
]
