"""LightningModules: a network from models/ wrapped for a kind of task."""

from rnnlab.tasks.base import TaskModule
from rnnlab.tasks.language import CharLanguageModel
from rnnlab.tasks.regression import SequenceRegressor
from rnnlab.tasks.supervised import SequenceClassifier, TokenPredictor, ValueRegressor

# spec.objective -> the module that trains on it (data/spec.py lists what each means)
TASKS = {
    "regression": SequenceRegressor,
    "language": CharLanguageModel,
    "value": ValueRegressor,
    "classification": SequenceClassifier,
    "tokens": TokenPredictor,
}

__all__ = [
    "TASKS",
    "CharLanguageModel",
    "SequenceClassifier",
    "SequenceRegressor",
    "TaskModule",
    "TokenPredictor",
    "ValueRegressor",
]
