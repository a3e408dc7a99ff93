"""Plain torch modules: no Lightning, no Hydra."""

from rnnlab.models.backbone import CELLS, RecurrentBackbone
from rnnlab.models.heads import LastStepHead, PerStepHead
from rnnlab.models.net import RecurrentNet

__all__ = ["CELLS", "LastStepHead", "PerStepHead", "RecurrentBackbone", "RecurrentNet"]
