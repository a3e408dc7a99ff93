"""LightningDataModules, one per task, serving whole batches from in-memory tensors."""

from rnnlab.data.series import CsvSeriesDataModule, SeriesDataModule
from rnnlab.data.sine import SineDataModule
from rnnlab.data.spec import TaskSpec

__all__ = ["CsvSeriesDataModule", "SeriesDataModule", "SineDataModule", "TaskSpec"]
