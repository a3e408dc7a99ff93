"""Plain torch modules: no Lightning, no Hydra. One file per model family."""

from rnnlab.models.backbone import CELLS, RecurrentBackbone
from rnnlab.models.lru import LRUNet
from rnnlab.models.minrnn import MinRNNNet
from rnnlab.models.net import RecurrentNet, SequenceNet
from rnnlab.models.s6 import S6Net
from rnnlab.models.transformer import TransformerNet

__all__ = [
    "CELLS",
    "LRUNet",
    "MinRNNNet",
    "RecurrentBackbone",
    "RecurrentNet",
    "S6Net",
    "SequenceNet",
    "TransformerNet",
]
