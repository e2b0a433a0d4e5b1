r"""Public entry point :func:`mixed_aggregate`; dispatches to the fused kernel or the reference."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from . import _extension, _fused, reference
from ._checks import check_inputs

__all__ = ["mixed_aggregate", "aggregate_stack", "backend"]

_CUDA_MAX_K = 64  # the CUDA kernels take the op codes by value


def backend() -> str:
    """Which implementation :func:`mixed_aggregate` uses; builds or loads the extension if needed.

    Returns:
        ``'cuda'``: fused kernels for CPU and CUDA tensors; ``'cpp-cpu'``: fused CPU kernel (CUDA
        tensors use the reference); ``'reference'``: pure PyTorch (extension disabled or not buildable,
        see :func:`darts_gnn.ops._extension.status`).
    """
    if not _extension.load():
        return "reference"
    return "cuda" if _extension.has_cuda() else "cpp-cpu"


@torch.compiler.disable
def _load_outside_graph() -> None:
    _extension.load()


def _fused_supports(x: Tensor, k: int) -> bool:
    if x.device.type == "cpu":
        return x.dtype in (torch.float32, torch.float64)
    if x.device.type == "cuda":
        return _extension.has_cuda() and k <= _CUDA_MAX_K
    return False


def mixed_aggregate(rowptr: Tensor, col: Tensor, x: Tensor, weights: Tensor, ops: Sequence[str],
                    edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""Mixture of ``K`` neighbourhood aggregations over a CSR graph.

    .. math::
        \mathrm{out}_v = \sum_{k=1}^{K} \mathrm{weights}_k \cdot
            \mathrm{agg}_{\mathrm{ops}_k}\big(\{ m_e : e \in [\mathrm{rowptr}_v, \mathrm{rowptr}_{v+1}) \}\big),
        \qquad m_e = w_e \, x_{\mathrm{col}_e}

    with :math:`w_e` = ``edge_weight[e]`` (1 when ``edge_weight`` is None) and, writing
    :math:`\deg(v) = \mathrm{rowptr}_{v+1} - \mathrm{rowptr}_v`:

    * ``sum``:  :math:`\sum_e m_e`
    * ``mean``: :math:`\deg(v)^{-1} \sum_e m_e`
    * ``gcn``:  :math:`\sum_e m_e / \sqrt{\deg(v)\,\deg(\mathrm{col}_e)}` (0 where a degree is 0),
      i.e. :math:`D^{-1/2} A D^{-1/2} x` for a symmetric graph
    * ``max`` / ``min``: element-wise maximum / minimum over the :math:`m_e`

    Every aggregator gives 0 on an empty row. The fused kernel reads each neighbour row once for all
    ``K`` aggregators; gradients flow to ``x``, ``weights`` and ``edge_weight``. For ``max``/``min``
    the gradient goes to the first maximising (minimising) entry in CSR order.

    Args:
        rowptr: ``[N+1]`` int64 CSR row pointer by destination row.
        col: ``[E]`` int64; row ``v``'s in-neighbours are ``col[rowptr[v]:rowptr[v+1]]``.
        x: ``[N, d]`` float32/float64 (float16/bfloat16 too on CUDA).
        weights: ``[K]`` mixing weights (e.g. a softmax of architecture parameters).
        ops: ``K`` names from ``('sum', 'mean', 'gcn', 'max', 'min')``; repeats are allowed.
        edge_weight: optional ``[E]`` factor on each message.

    Returns:
        ``[N, d]`` tensor with ``x``'s dtype and device.

    Raises:
        ValueError: for a wrong dtype, shape, device, unknown aggregator or an inconsistent ``rowptr``.
    """
    codes = check_inputs(rowptr, col, x, weights, ops, edge_weight)
    if not _extension.tried():
        _load_outside_graph()
    if _extension.is_loaded() and _fused_supports(x, len(codes)):
        return _fused.mixed_aggregate(rowptr, col, x, weights, codes, edge_weight)
    return reference.mixed_aggregate(rowptr, col, x, weights, ops, edge_weight)


def aggregate_stack(rowptr: Tensor, col: Tensor, x: Tensor, ops: Sequence[str],
                    edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""Every aggregator of ``ops`` separately, stacked: ``out[k] = agg_{ops_k}(G, x)``, ``[K, N, d]``.

    The per-candidate outputs that a normalised mixture needs (each candidate rescaled before it
    is weighted). Same arguments and semantics as :func:`mixed_aggregate` without ``weights``:

    .. math::
        \mathrm{mixed\_aggregate}(\ldots, w, \mathrm{ops}) = \sum_k w_k \, \mathrm{out}_k

    The fused kernel makes one pass over the graph (each neighbour row is read once for all ``K``
    aggregators) and writes ``K`` outputs. Gradients flow to ``x`` and ``edge_weight``, exactly to
    every order (double backward included); max/min route to the first winner in CSR order.

    Args:
        rowptr: ``[N+1]`` int64 CSR row pointer by destination row.
        col: ``[E]`` int64 in-neighbours.
        x: ``[N, d]`` float32/float64 (float16/bfloat16 too on CUDA).
        ops: ``K`` names from ``('sum', 'mean', 'gcn', 'max', 'min')``; repeats are allowed.
        edge_weight: optional ``[E]`` factor on each message.

    Returns:
        ``[K, N, d]`` tensor with ``x``'s dtype and device.
    """
    codes = check_inputs(rowptr, col, x, None, ops, edge_weight)
    if not _extension.tried():
        _load_outside_graph()
    if _extension.is_loaded() and _fused_supports(x, len(codes)):
        return _fused.aggregate_stack(rowptr, col, x, codes, edge_weight)
    return reference.aggregate_stack(rowptr, col, x, ops, edge_weight)
