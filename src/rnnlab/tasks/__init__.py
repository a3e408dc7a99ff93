"""LightningModules: a network from models/ wrapped for a kind of task."""

from rnnlab.tasks.regression import SequenceRegressor

__all__ = ["SequenceRegressor"]
