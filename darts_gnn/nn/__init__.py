"""Models and layers: the :class:`Recommender` interface and the hand-designed baselines."""
from .base import Recommender, sym_spmm
from .lightgcn import LightGCN
from .mf import MF
from .ngcf import NGCF
from .propagation import EdgeDropAggregate, ExponentAggregate, SelfLoopAggregate

__all__ = [
    "Recommender",
    "MF",
    "LightGCN",
    "NGCF",
    "sym_spmm",
    "ExponentAggregate", "SelfLoopAggregate", "EdgeDropAggregate",
]
