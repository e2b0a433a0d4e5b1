r"""Graph-CF propagation variants of the GCN aggregator, each from the literature on beating LightGCN.

All run as one weighted ``sum`` of :func:`darts_gnn.ops.mixed_aggregate` over the CSR graph (edge
``e = (v <- u)`` with weight :math:`w_e`), ``x`` ``[N, d]`` -> ``[N, d]``; with :math:`d_v` the degree:

* :class:`ExponentAggregate` (``gcn_a25``, ``gcn_a75``): :math:`D^{-a} A D^{-(1-a)}`, i.e.
  :math:`w_{vu} = d_v^{-a} d_u^{-(1-a)}`; ``a = 0.5`` is LightGCN's symmetric norm. The exponent
  trades popularity bias against accuracy (r-AdjNorm, Zhao et al., "Investigating accuracy-novelty
  performance for graph-based collaborative filtering", SIGIR 2022).
* :class:`SelfLoopAggregate` (``gcn_self``): :math:`\tilde D^{-1/2}(A + \lambda I)\tilde D^{-1/2}`
  with :math:`\tilde D = D + \lambda I` (the renormalisation trick of Kipf and Welling, ICLR 2017;
  self-connections in graph CF: LR-GCCF, Chen et al., AAAI 2020).
* :class:`EdgeDropAggregate` (``gcn_drop``): symmetric GCN over a random subgraph during training,
  each edge kept with probability :math:`1 - p` and reweighted by :math:`1/(1-p)`; the full graph in
  eval mode (edge dropout: NGCF / LightGCN reference code; SGL, Wu et al., SIGIR 2021). Uses
  torch's global generator (seed it for repeatability).
"""
from __future__ import annotations

import weakref

import torch
from torch import Tensor, nn
from ..ops import mixed_aggregate

__all__ = ["ExponentAggregate", "SelfLoopAggregate", "EdgeDropAggregate"]

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _cached(graph, key, make):
    table = _CACHE.setdefault(graph, {})
    if key not in table:
        table[key] = make()
    return table[key]


def _weighted_sum(graph, x: Tensor, weight: Tensor) -> Tensor:
    return mixed_aggregate(graph.rowptr, graph.col, x, x.new_ones(1), ("sum",), weight.to(x.dtype))


class ExponentAggregate(nn.Module):
    r""":math:`h = D^{-a} A D^{-(1-a)} x` (module doc); ``exponent`` is :math:`a` in [0, 1]."""

    def __init__(self, dim: int | None = None, exponent: float = 0.5):
        super().__init__()
        if not 0.0 <= float(exponent) <= 1.0:
            raise ValueError(f"ExponentAggregate: exponent must be in [0, 1], got {exponent!r}")
        self.exponent = float(exponent)

    def weight(self, graph) -> Tensor:
        def make() -> Tensor:
            d = graph.deg.clamp_min(1.0)
            return (d.pow(-self.exponent)[graph.row] * d.pow(self.exponent - 1.0)[graph.col]).contiguous()
        return _cached(graph, ("exp", self.exponent), make)

    def forward(self, graph, x: Tensor) -> Tensor:
        return _weighted_sum(graph, x, self.weight(graph))

    def extra_repr(self) -> str:
        return f"exponent={self.exponent}"


class SelfLoopAggregate(nn.Module):
    r""":math:`h = \tilde D^{-1/2}(A + \lambda I)\tilde D^{-1/2} x`, :math:`\tilde D = D + \lambda I`."""

    def __init__(self, dim: int | None = None, loop_weight: float = 1.0):
        super().__init__()
        if float(loop_weight) < 0:
            raise ValueError(f"SelfLoopAggregate: loop_weight must be >= 0, got {loop_weight!r}")
        self.loop_weight = float(loop_weight)

    def forward(self, graph, x: Tensor) -> Tensor:
        lam = self.loop_weight

        def make() -> tuple[Tensor, Tensor]:
            dinv = (graph.deg + lam).clamp_min(1e-12).rsqrt()
            return (dinv[graph.row] * dinv[graph.col]).contiguous(), (lam * dinv * dinv).unsqueeze(1)
        edge, loop = _cached(graph, ("self", lam), make)
        return _weighted_sum(graph, x, edge) + loop.to(x.dtype) * x

    def extra_repr(self) -> str:
        return f"loop_weight={self.loop_weight}"


class EdgeDropAggregate(nn.Module):
    r"""Symmetric GCN with edge dropout ``p`` while training (module doc); plain GCN in eval mode."""

    def __init__(self, dim: int | None = None, p: float = 0.1):
        super().__init__()
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"EdgeDropAggregate: p must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, graph, x: Tensor) -> Tensor:
        w = graph.gcn_weight
        if self.training and self.p > 0:
            keep = torch.rand(w.shape, device=w.device) >= self.p
            w = w * keep / (1.0 - self.p)
        return _weighted_sum(graph, x, w)

    def extra_repr(self) -> str:
        return f"p={self.p}"
