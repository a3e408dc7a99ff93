"""Configs as rnnlab 0.1 stored them (in checkpoints and run dirs), read by today's code.

0.1 named its classes by their package (``rnnlab.models.LRUNet``) and kept the task's
settings under ``model:``. This table is history: it never grows, since every part
registered since is named by its module.
"""

from __future__ import annotations

from typing import Any

RENAMED = {
    "rnnlab.models.RecurrentNet": "rnnlab.models.net.RecurrentNet",
    "rnnlab.models.MinRNNNet": "rnnlab.models.minrnn.MinRNNNet",
    "rnnlab.models.LRUNet": "rnnlab.models.lru.LRUNet",
    "rnnlab.models.S6Net": "rnnlab.models.s6.S6Net",
    "rnnlab.models.TransformerNet": "rnnlab.models.transformer.TransformerNet",
    "rnnlab.data.SineDataModule": "rnnlab.data.sine.SineDataModule",
    "rnnlab.data.CsvSeriesDataModule": "rnnlab.data.csv_series.CsvSeriesDataModule",
    "rnnlab.data.CountingDataModule": "rnnlab.data.counting.CountingDataModule",
    "rnnlab.data.CharTextDataModule": "rnnlab.data.text.CharTextDataModule",
    "rnnlab.data.AddingDataModule": "rnnlab.data.memory.AddingDataModule",
    "rnnlab.data.CopyDataModule": "rnnlab.data.memory.CopyDataModule",
    "rnnlab.data.SelectiveCopyDataModule": "rnnlab.data.memory.SelectiveCopyDataModule",
    "rnnlab.data.MQARDataModule": "rnnlab.data.memory.MQARDataModule",
    "rnnlab.data.ParityDataModule": "rnnlab.data.memory.ParityDataModule",
    "rnnlab.callbacks.AttentionPlot": "rnnlab.callbacks.attention_plot.AttentionPlot",
    "rnnlab.callbacks.ForecastPlot": "rnnlab.callbacks.forecast_plot.ForecastPlot",
    "rnnlab.callbacks.GradientFlow": "rnnlab.callbacks.gradients.GradientFlow",
    "rnnlab.callbacks.GradientNorm": "rnnlab.callbacks.gradients.GradientNorm",
    "rnnlab.callbacks.TextSample": "rnnlab.callbacks.text_sample.TextSample",
}
TASK_KEYS = ("likelihood", "quantiles")  # under model: in 0.1, under task: since
MOVED = {f"model.{key}": f"task.{key}" for key in TASK_KEYS}


def upgrade(config: Any) -> Any:
    """A stored run config (a plain container) in today's form; today's configs pass as
    they are. Anything else is left for the checks that follow to refuse."""
    if not isinstance(config, dict):
        return config
    config = {key: _renamed(value) for key, value in config.items()}
    model = config.get("model")
    if isinstance(model, dict) and any(key in model for key in TASK_KEYS) and "task" not in config:
        config["model"] = {k: v for k, v in model.items() if k not in TASK_KEYS}
        config["task"] = {k: model[k] for k in TASK_KEYS if k in model}
    return config


def _renamed(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: RENAMED.get(value, value)
            if key == "_target_" and isinstance(value, str)
            else _renamed(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renamed(item) for item in node]
    return node
