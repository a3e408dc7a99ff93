"""LightningDataModules, one per task, serving whole batches from in-memory tensors."""

from rnnlab.data.counting import CountingDataModule
from rnnlab.data.csv_series import CsvSeriesDataModule
from rnnlab.data.memory import (
    AddingDataModule,
    CopyDataModule,
    MQARDataModule,
    ParityDataModule,
    SelectiveCopyDataModule,
)
from rnnlab.data.series import SeriesDataModule
from rnnlab.data.sine import SineDataModule
from rnnlab.data.spec import Scaling, TaskSpec, Vocabulary
from rnnlab.data.text import CharTextDataModule

__all__ = [
    "AddingDataModule",
    "CharTextDataModule",
    "CopyDataModule",
    "CountingDataModule",
    "CsvSeriesDataModule",
    "MQARDataModule",
    "ParityDataModule",
    "Scaling",
    "SelectiveCopyDataModule",
    "SeriesDataModule",
    "SineDataModule",
    "TaskSpec",
    "Vocabulary",
]
