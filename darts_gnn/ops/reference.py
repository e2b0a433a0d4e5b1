r"""Pure-PyTorch mixed aggregation: the ground truth in tests and the fallback of the fused op.

It computes the same function as :func:`darts_gnn.ops.mixed_aggregate` with native PyTorch
operations: the neighbour messages are gathered once, then each of the ``K`` aggregators is a
separate native reduction (``index_add`` or ``scatter_reduce``), and the results are mixed.
Autograd flows to ``x``, ``weights`` and ``edge_weight`` through the native operations.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from ._checks import AGGREGATORS, check_inputs
from .csr import inv_sqrt_degree

__all__ = ["mixed_aggregate", "aggregate", "aggregate_stack", "gcn_norm"]


def gcn_norm(rowptr: Tensor, col: Tensor) -> Tensor:
    r"""Per-edge symmetric GCN coefficients :math:`1/\sqrt{\deg(v)\,\deg(u)}`, shape ``[E]``.

    For edge ``e`` in row ``v`` with ``u = col[e]``; ``deg(w) = rowptr[w+1] - rowptr[w]`` (the
    number of stored entries of row ``w``, duplicates counted). A zero degree gives coefficient 0.
    Returned as float64; cast as needed.
    """
    dinv = inv_sqrt_degree(rowptr, torch.float64)
    row = _row_index(rowptr, col.numel())
    return dinv[row] * dinv[col]


def _row_index(rowptr: Tensor, num_edges: int) -> Tensor:
    n = rowptr.numel() - 1
    deg = rowptr[1:] - rowptr[:-1]
    return torch.repeat_interleave(torch.arange(n, device=rowptr.device), deg, output_size=num_edges)


def aggregate(rowptr: Tensor, col: Tensor, x: Tensor, op: str,
              edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""One aggregator ``op`` over the CSR graph as native PyTorch ops: ``[N, d]``.

    Messages are :math:`m_e = w_e\,x_{col[e]}` (``w_e = edge_weight[e]``, or 1). For row ``v``
    with entries :math:`e \in R(v)`:

    * ``sum``:  :math:`\sum_e m_e`
    * ``mean``: :math:`\frac{1}{\deg(v)} \sum_e m_e`
    * ``gcn``:  :math:`\sum_e \frac{m_e}{\sqrt{\deg(v)\deg(col[e])}}`
    * ``max`` / ``min``: element-wise maximum / minimum of the :math:`m_e`

    An empty row gives 0 for every aggregator.
    """
    return mixed_aggregate(rowptr, col, x, x.new_ones(1), (op,), edge_weight)


def aggregate_stack(rowptr: Tensor, col: Tensor, x: Tensor, ops: Sequence[str],
                    edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""Reference ``out[k] = agg_{ops[k]}(v)``, ``[K, N, d]``: one native pass per aggregator."""
    check_inputs(rowptr, col, x, None, ops, edge_weight)
    return torch.stack([aggregate(rowptr, col, x, op, edge_weight) for op in ops])


def mixed_aggregate(rowptr: Tensor, col: Tensor, x: Tensor, weights: Tensor, ops: Sequence[str],
                    edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""Reference :math:`\mathrm{out}_v = \sum_k \mathrm{weights}_k \cdot \mathrm{agg}_k(v)`.

    Same arguments, shapes and semantics as :func:`darts_gnn.ops.mixed_aggregate`:

    Args:
        rowptr: ``[N+1]`` int64 CSR row pointer (by destination row).
        col: ``[E]`` int64 source node of every entry.
        x: ``[N, d]`` node features.
        weights: ``[K]`` mixing weights, one per entry of ``ops``.
        ops: ``K`` aggregator names from :data:`~darts_gnn.ops.AGGREGATORS`.
        edge_weight: optional ``[E]`` per-entry factor applied to every message.

    Returns:
        ``[N, d]`` tensor of ``x``'s dtype.
    """
    check_inputs(rowptr, col, x, weights, ops, edge_weight)
    n, d = x.shape
    num_edges = col.numel()
    row = _row_index(rowptr, num_edges)
    deg = (rowptr[1:] - rowptr[:-1]).to(x.dtype)
    msg = x.index_select(0, col)
    if edge_weight is not None:
        msg = msg * edge_weight.to(x.dtype).unsqueeze(1)
    w = weights.to(x.dtype)
    out = x.new_zeros(n, d)
    for k, op in enumerate(ops):
        if op == "sum":
            agg = x.new_zeros(n, d).index_add(0, row, msg)
        elif op == "mean":
            agg = x.new_zeros(n, d).index_add(0, row, msg) / deg.clamp(min=1).unsqueeze(1)
        elif op == "gcn":
            coef = gcn_norm(rowptr, col).to(x.dtype).unsqueeze(1)
            agg = x.new_zeros(n, d).index_add(0, row, msg * coef)
        elif op in ("max", "min"):
            index = row.unsqueeze(1).expand(num_edges, d)
            agg = x.new_zeros(n, d).scatter_reduce(0, index, msg, "amax" if op == "max" else "amin",
                                                    include_self=False)
        else:  # pragma: no cover - check_inputs rejects unknown names
            raise ValueError(f"unknown aggregator {op!r}; allowed values are {AGGREGATORS}")
        out = out + w[k] * agg
    return out
