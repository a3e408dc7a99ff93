"""Callbacks that put what a researcher looks at into TensorBoard, and run metadata into checkpoints."""

from rnnlab.callbacks.forecast_plot import ForecastPlot
from rnnlab.callbacks.run_config import RunConfigCheckpoint
from rnnlab.callbacks.text_sample import TextSample

__all__ = ["ForecastPlot", "RunConfigCheckpoint", "TextSample"]
