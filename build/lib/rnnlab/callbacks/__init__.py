"""Callbacks: what a researcher looks at in TensorBoard, and what keeps runs safe."""

from rnnlab.callbacks.attention_plot import AttentionPlot
from rnnlab.callbacks.base import TaskCallback
from rnnlab.callbacks.forecast_plot import ForecastPlot
from rnnlab.callbacks.gradients import GradientFlow, GradientNorm, hidden_state_gradients
from rnnlab.callbacks.pruning import TrialPruning
from rnnlab.callbacks.run_config import RunConfigCheckpoint
from rnnlab.callbacks.safety import DivergenceGuard, GracefulInterrupt, RunInterrupted, TrainingDiverged
from rnnlab.callbacks.text_sample import TextSample

__all__ = [
    "AttentionPlot",
    "DivergenceGuard",
    "ForecastPlot",
    "GracefulInterrupt",
    "GradientFlow",
    "GradientNorm",
    "RunConfigCheckpoint",
    "RunInterrupted",
    "TaskCallback",
    "TextSample",
    "TrainingDiverged",
    "TrialPruning",
    "hidden_state_gradients",
]
