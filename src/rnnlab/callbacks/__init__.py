"""Callbacks that put what a researcher looks at into TensorBoard."""

from rnnlab.callbacks.forecast_plot import ForecastPlot

__all__ = ["ForecastPlot"]
