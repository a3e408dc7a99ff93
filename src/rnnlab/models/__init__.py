"""Plain torch modules: no Lightning, no Hydra."""

from rnnlab.models.backbone import CELLS, RecurrentBackbone
from rnnlab.models.net import RecurrentNet

__all__ = ["CELLS", "RecurrentBackbone", "RecurrentNet"]
