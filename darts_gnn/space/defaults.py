"""The built-in candidates, registered in :data:`~darts_gnn.space.registry.REGISTRY` on import.

Aggregators (:mod:`.candidates`, :mod:`darts_gnn.nn.propagation`), transforms, skips, combines, and the
content-feature candidates of :mod:`.fusion`. Imported by the package's ``__init__``, so importing any
module of the space sees them registered.
"""
from __future__ import annotations

from torch import nn

from ..nn.propagation import EdgeDropAggregate, ExponentAggregate, SelfLoopAggregate
from .candidates import (DotAttentionAggregate, GCNAggregate, LastCombine, LearnedCombine, LinearTransform,
                         MeanCombine, NativeAggregate, NoSkip, Residual, SumCombine)
from .fusion import register_defaults as _register_fusion
from .registry import REGISTRY, register

__all__: list[str] = []

register("aggregator", "gcn", GCNAggregate, native="gcn",
         description="symmetric normalised sum D^-1/2 A D^-1/2 X (LightGCN)")
for _op in ("mean", "sum", "max", "min"):
    register("aggregator", _op, (lambda op: (lambda dim: NativeAggregate(op)))(_op), native=_op,
             description=f"element-wise {_op} over the neighbours (mixed_aggregate op {_op!r})")
register("aggregator", "attn", DotAttentionAggregate, description="scaled dot-product attention")
register("aggregator", "gcn_a25", lambda dim: ExponentAggregate(dim, 0.25),
         description="D^-0.25 A D^-0.75 X (r-AdjNorm, Zhao et al., SIGIR 2022)")
register("aggregator", "gcn_a75", lambda dim: ExponentAggregate(dim, 0.75),
         description="D^-0.75 A D^-0.25 X (r-AdjNorm, Zhao et al., SIGIR 2022)")
register("aggregator", "gcn_self", SelfLoopAggregate,
         description="(D+I)^-1/2 (A+I) (D+I)^-1/2 X (self-loops; Kipf & Welling 2017, LR-GCCF)")
register("aggregator", "gcn_drop", EdgeDropAggregate,
         description="D^-1/2 A D^-1/2 X over edges kept with p=0.9 while training (edge dropout; SGL)")
register("transform", "identity", lambda dim: nn.Identity(), description="no transform")
register("transform", "linear", lambda dim: LinearTransform(dim), description="W x + b")
register("transform", "linear_act", lambda dim: LinearTransform(dim, activation=True),
         description="LeakyReLU(W x + b, 0.2)")
register("skip", "none", NoSkip, description="no skip connection")
register("skip", "residual", Residual, description="h + f(h)")
register("combine", "last", LastCombine, description="the last layer's output")
register("combine", "mean", MeanCombine, description="mean over layers 0..depth (LightGCN)")
register("combine", "sum", SumCombine, description="sum over layers 0..depth")
register("combine", "learned", LearnedCombine, description="softmax-weighted sum, weights trained")
_register_fusion(REGISTRY)  # content_transform and fusion candidates (darts_gnn.space.fusion, issue 11)
