"""LightningModules: a network from models/ wrapped for a kind of task."""

from rnnlab.tasks.base import TaskModule
from rnnlab.tasks.language import CharLanguageModel
from rnnlab.tasks.regression import SequenceRegressor

TASKS = {"regression": SequenceRegressor, "language": CharLanguageModel}

__all__ = ["TASKS", "CharLanguageModel", "SequenceRegressor", "TaskModule"]
