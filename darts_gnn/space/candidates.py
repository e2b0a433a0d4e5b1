r"""The built-in candidate operations of the search space, one small module each.

Every candidate kind has one call convention (the same in the supernet and in discrete models):

==============  ==========================  ================================================
kind            built as                    called as
==============  ==========================  ================================================
aggregator      ``factory(dim)``            ``module(graph, x) -> [N, d]``
transform       ``factory(dim)``            ``module(x) -> [N, d]``
skip            ``factory(dim)``            ``module(x_in, x_out) -> [N, d]``
combine         ``factory(dim, n_inputs)``  ``module(hs) -> [N, d]`` for a list of 1..n_inputs tensors
==============  ==========================  ================================================

``graph`` is a :class:`~darts_gnn.data.Graph` on ``x``'s device (``rowptr``, ``col``, ``row``,
``gcn_weight``, ``deg``, ``norm_adj()``); ``x`` is ``[N, d]`` with ``N = U + I`` nodes.
They are registered under their names in :mod:`darts_gnn.space.registry`.
"""
from __future__ import annotations

import math
import warnings
import weakref

import torch
from torch import Tensor, nn

from ..nn.base import sym_spmm
from ..ops import mixed_aggregate

__all__ = [
    "NativeAggregate", "GCNAggregate", "DotAttentionAggregate", "LinearTransform", "NoSkip", "Residual",
    "LastCombine", "MeanCombine", "SumCombine", "LearnedCombine",
]


class NativeAggregate(nn.Module):
    r"""One aggregator of :func:`darts_gnn.ops.mixed_aggregate` (``sum``, ``mean``, ``gcn``, ``max``,
    ``min``) over the in-neighbours :math:`\mathcal N(v)`, e.g. ``max``:
    :math:`h_v = \max_{u \in \mathcal N(v)} x_u` element-wise (an empty row gives 0).

    The supernet does not call this module: it mixes all native aggregators of a layer in a single
    ``mixed_aggregate`` call. Discrete models call it with weight 1.
    """

    def __init__(self, op: str):
        super().__init__()
        self.op = op

    def forward(self, graph, x: Tensor) -> Tensor:
        return mixed_aggregate(graph.rowptr, graph.col, x, x.new_ones(1), (self.op,))

    def extra_repr(self) -> str:
        return f"op={self.op!r}"


class GCNAggregate(NativeAggregate):
    r"""Symmetric GCN propagation :math:`H = D^{-1/2} A D^{-1/2} X` (LightGCN's layer).

    In discrete models it is the same sparse product as :class:`~darts_gnn.nn.LightGCN`
    (``sym_spmm(graph.norm_adj(), x)``), so the LightGCN genotype reproduces LightGCN bit for bit.
    """

    def __init__(self, dim: int | None = None):
        super().__init__("gcn")

    def forward(self, graph, x: Tensor) -> Tensor:
        return sym_spmm(graph.norm_adj(), x)


def _csr(graph, values: Tensor) -> Tensor:
    n = graph.num_nodes
    with warnings.catch_warnings():  # "sparse CSR support is in beta" / invariant-check notices
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(graph.rowptr, graph.col, values, size=(n, n))


_PERM: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def transpose_perm(graph) -> Tensor | None:
    """For a graph whose pattern is symmetric: ``perm`` with edge ``perm[e]`` = the reverse of edge
    ``e`` (so ``values[perm]`` are the CSR values of the transpose). ``None`` if not symmetric."""
    if graph in _PERM:
        return _PERM[graph]
    n = graph.num_nodes
    key = graph.row * n + graph.col
    rkey = graph.col * n + graph.row
    perm = torch.searchsorted(key, rkey).clamp(max=max(0, key.numel() - 1))
    ok = key.numel() == 0 or bool((key[perm] == rkey).all())
    _PERM[graph] = perm if ok else None
    return _PERM[graph]


def _edge_softmax_attention(graph, x: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """Differentiable reference: ``(out [N, d], attention [E])``."""
    row, col = graph.row, graph.col
    n = x.size(0)
    xc = x.index_select(0, col)
    score = (x.index_select(0, row) * xc).sum(-1) * scale
    peak = score.new_full((n,), -math.inf).scatter_reduce(0, row, score.detach(), "amax", include_self=True)
    e = (score - peak.index_select(0, row)).exp()
    a = e / e.new_zeros(n).index_add(0, row, e).index_select(0, row)
    return x.new_zeros(n, x.size(1)).index_add(0, row, xc * a.unsqueeze(1)), a


class _SparseAttention(torch.autograd.Function):
    """Dot-product attention with sparse kernels only: SDDMM (``sampled_addmm``) for the scores and
    their gradient, CSR products for the aggregation and its transpose (symmetric pattern)."""

    @staticmethod
    def forward(ctx, x: Tensor, graph, perm: Tensor, scale: float) -> Tensor:
        n = x.size(0)
        row = graph.row
        pattern = _csr(graph, x.new_zeros(graph.num_edges))
        score = torch.sparse.sampled_addmm(pattern, x, x.t(), beta=0.0).values() * scale
        peak = score.new_full((n,), -math.inf).scatter_reduce(0, row, score, "amax", include_self=True)
        e = (score - peak.index_select(0, row)).exp()
        a = e / e.new_zeros(n).index_add(0, row, e).index_select(0, row)
        ctx.graph, ctx.scale = graph, scale
        ctx.save_for_backward(x, a, perm)
        return torch.sparse.mm(_csr(graph, a), x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, a, perm = ctx.saved_tensors
        graph, scale = ctx.graph, ctx.scale
        if torch.is_grad_enabled():  # double backward (e.g. Hessian-vector products): differentiable path
            with torch.enable_grad():
                out, _ = _edge_softmax_attention(graph, x, scale)
                (gx,) = torch.autograd.grad(out, x, grad, create_graph=True)
            return gx, None, None, None
        grad = grad.contiguous()
        row = graph.row
        gx = torch.sparse.mm(_csr(graph, a[perm]), grad)                    # through sum_u a_vu x_u
        da = torch.sparse.sampled_addmm(_csr(graph, torch.zeros_like(a)), grad, x.t(), beta=0.0).values()
        dot = a.new_zeros(x.size(0)).index_add(0, row, a * da)
        ds = a * (da - dot.index_select(0, row)) * scale                    # softmax backward
        gx = gx + torch.sparse.mm(_csr(graph, ds), x) + torch.sparse.mm(_csr(graph, ds[perm]), x)
        return gx, None, None, None


class DotAttentionAggregate(nn.Module):
    r"""Parameter-free dot-product attention over the neighbours:

    .. math::
        a_{vu} = \mathrm{softmax}_{u \in \mathcal N(v)}\big(s \langle x_v, x_u\rangle\big), \qquad
        h_v = \sum_{u \in \mathcal N(v)} a_{vu}\, x_u

    with a fixed ``scale`` :math:`s` (default 1, independent of ``d`` so that the supernet's masked
    width and a discrete model of that width compute the same). ``x`` ``[N, d]`` -> ``[N, d]``; an
    empty row gives 0. On CPU float tensors over a symmetric graph it
    runs sparse kernels only (SDDMM + CSR products, no ``[E, d]`` temporaries); otherwise a
    gather/scatter reference.
    """

    def __init__(self, dim: int, scale: float = 1.0):
        super().__init__()
        self.dim = int(dim)
        self.scale = float(scale)

    def forward(self, graph, x: Tensor) -> Tensor:
        perm = transpose_perm(graph) if x.device.type == "cpu" else None
        if perm is None or graph.num_edges == 0:
            return _edge_softmax_attention(graph, x, self.scale)[0]
        return _SparseAttention.apply(x, graph, perm, self.scale)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LinearTransform(nn.Module):
    r""":math:`h = W x + b`, or :math:`\mathrm{LeakyReLU}_{0.2}(W x + b)` with ``activation=True``.

    ``W`` ``[d, d]`` Xavier-uniform, ``b`` zero.
    """

    def __init__(self, dim: int, activation: bool = False):
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.activation = bool(activation)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.linear(x)
        return nn.functional.leaky_relu(h, 0.2) if self.activation else h

    def extra_repr(self) -> str:
        return f"activation={self.activation}"


class NoSkip(nn.Module):
    """No skip connection: the layer's output as is."""

    def __init__(self, dim: int | None = None):
        super().__init__()

    def forward(self, x_in: Tensor, x_out: Tensor) -> Tensor:
        return x_out


class Residual(nn.Module):
    r"""Residual connection :math:`h^{(l+1)} = f(h^{(l)}) + h^{(l)}`."""

    def __init__(self, dim: int | None = None):
        super().__init__()

    def forward(self, x_in: Tensor, x_out: Tensor) -> Tensor:
        return x_out + x_in


class LastCombine(nn.Module):
    """The output of the last layer: ``hs[-1]``."""

    def __init__(self, dim: int | None = None, n_inputs: int | None = None):
        super().__init__()

    def forward(self, hs: list[Tensor]) -> Tensor:
        return hs[-1]


class SumCombine(nn.Module):
    r""":math:`\sum_{l=0}^{L} h^{(l)}`."""

    def __init__(self, dim: int | None = None, n_inputs: int | None = None):
        super().__init__()

    def forward(self, hs: list[Tensor]) -> Tensor:
        total = hs[0]
        for h in hs[1:]:
            total = total + h
        return total


class MeanCombine(SumCombine):
    r""":math:`\frac{1}{L+1}\sum_{l=0}^{L} h^{(l)}` (LightGCN's layer combination, same float order)."""

    def forward(self, hs: list[Tensor]) -> Tensor:
        return super().forward(hs) / len(hs)


class LearnedCombine(nn.Module):
    r""":math:`\sum_{l=0}^{L} \beta_l h^{(l)}` with :math:`\beta = \mathrm{softmax}(b_{0..L})`, ``b``
    ``[n_inputs]`` trained with the weights (initialised to 0: starts as the mean). Given fewer
    inputs than ``n_inputs``, it uses the softmax of the first ``len(hs)`` logits.
    """

    def __init__(self, dim: int | None = None, n_inputs: int = 1):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(max(1, int(n_inputs))))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.logits)

    def forward(self, hs: list[Tensor]) -> Tensor:
        beta = torch.softmax(self.logits[:len(hs)], dim=0)
        total = beta[0] * hs[0]
        for b, h in zip(beta[1:], hs[1:]):
            total = total + b * h
        return total
