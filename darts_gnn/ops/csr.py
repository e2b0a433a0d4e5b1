r"""CSR helpers shared by the op, the reference and :class:`~darts_gnn.data.Graph`: the symmetric-norm
degree factor :math:`D^{-1/2}` and the (cached) transposed graph.

.. code-block:: python

    from darts_gnn.ops import csr_transpose, inv_sqrt_degree
    dinv = inv_sqrt_degree(rowptr)                     # [N]
    t_rowptr, t_row, t_eid = csr_transpose(rowptr, col)  # [N+1], [E], [E]
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor

from . import _extension

__all__ = ["inv_sqrt_degree", "csr_transpose"]


def inv_sqrt_degree(rowptr: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    r""":math:`D^{-1/2}`: ``[N]`` with :math:`1/\sqrt{\deg(v)}`, ``deg(v) = rowptr[v+1] - rowptr[v]``
    (stored entries, duplicates counted), and 0 where a row is empty."""
    deg = rowptr.diff().to(dtype)
    return torch.where(deg > 0, deg.clamp(min=1).rsqrt(), torch.zeros_like(deg))


_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()
_CACHE_SIZE = 4


def _transpose(rowptr: Tensor, col: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    if _extension.is_loaded() and col.device.type in (("cpu", "cuda") if _extension.has_cuda() else ("cpu",)):
        return torch.ops.darts_gnn.csr_transpose(rowptr, col)
    n = rowptr.numel() - 1  # the same stable sort in PyTorch (no extension, or a device it was not built for)
    t_eid = torch.argsort(col, stable=True)
    row = torch.repeat_interleave(torch.arange(n, device=col.device), rowptr.diff(), output_size=col.numel())
    t_rowptr = torch.searchsorted(col.index_select(0, t_eid), torch.arange(n + 1, device=col.device))
    return t_rowptr, row.index_select(0, t_eid), t_eid


def csr_transpose(rowptr: Tensor, col: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Transpose of a square CSR pattern: ``(t_rowptr [N+1], t_row [E], t_eid [E])``.

    Entry ``i`` of transposed row ``u`` is the original edge ``t_eid[i]`` from ``u`` into row
    ``t_row[i]``; entries are in ascending edge id (a stable sort by ``col``). Computed by the
    extension's ``darts_gnn::csr_transpose`` when loaded (else the same sort in PyTorch) and cached:
    the one cache of transposes in darts-gnn (the fused backward and :meth:`Graph.transpose
    <darts_gnn.data.Graph.transpose>` share it). An entry is keyed by the graph's storage, keeps
    references to ``rowptr`` and ``col`` (their memory cannot be reused while cached), records their
    version counters (in-place edits invalidate it); the last 4 graphs are kept. While tracing
    (torch.compile: fake or functional tensors) the op is called directly.
    """
    if type(col) is not torch.Tensor or type(rowptr) is not torch.Tensor or torch.compiler.is_compiling():
        return torch.ops.darts_gnn.csr_transpose(rowptr, col)
    key = (col.device, col.data_ptr(), col.numel(), col.stride(), rowptr.data_ptr(), rowptr.numel(), rowptr.stride())
    hit = _CACHE.get(key)
    if hit is not None and hit[0]._version == hit[2] and hit[1]._version == hit[3]:
        _CACHE.move_to_end(key)
        return hit[4]
    result = _transpose(rowptr, col)
    _CACHE[key] = (col, rowptr, col._version, rowptr._version, result)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result
