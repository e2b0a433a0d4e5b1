"""Python side of the fused ``darts_gnn::*`` operators: fake kernels, autograd, transpose cache.

:func:`register` is called by :mod:`darts_gnn.ops._extension` once the C++ library (which defines the
schemas with ``TORCH_LIBRARY``) is loaded.

Autograd: when gradients are needed and ``ops`` has max/min, the forward saves per-edge bitmasks of
the feature columns each edge wins (``arg``, int64 ``[S, E, ceil(d/64)]``, S = number of max/min
aggregators). The backward needs the transposed graph for the gradients of ``x`` and ``weights``; it
is computed by ``darts_gnn::csr_transpose`` and cached per graph (see :func:`csr_transpose`).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Sequence

import torch
from torch import Tensor

from ._checks import AGGREGATORS

__all__ = ["mixed_aggregate", "csr_transpose", "register"]

_MAX, _MIN = AGGREGATORS.index("max"), AGGREGATORS.index("min")


def _slots(ops: Sequence[int]) -> int:
    """Number of max/min bitmask slots the forward saves for ``ops``."""
    s = set(ops)
    return int(_MAX in s) + int(_MIN in s)


# ------------------------------------------------------------------------------------------ fake kernels

def _mixed_aggregate_fake(rowptr, col, x, weights, ops, edge_weight=None, save_arg=False):
    n, d = x.shape
    words = (d + 63) // 64
    return x.new_empty(n, d), x.new_empty((_slots(ops) if save_arg else 0, col.numel(), words), dtype=torch.int64)


def _mixed_aggregate_backward_fake(grad_out, rowptr, col, x, weights, ops, edge_weight, arg, t_rowptr, t_row, t_eid,
                                   output_mask):
    need_x, need_w, need_ew = output_mask
    need_ew = need_ew and edge_weight is not None
    return (x.new_empty(x.shape if need_x else (0,)), weights.new_empty((weights.numel() if need_w else 0,)),
            x.new_empty((col.numel() if need_ew else 0,)))


def _csr_transpose_fake(rowptr, col):
    return rowptr.new_empty(rowptr.shape), col.new_empty(col.shape), col.new_empty(col.shape)


# ------------------------------------------------------------------------------------- transpose cache

_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()
_CACHE_SIZE = 4


def csr_transpose(rowptr: Tensor, col: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``darts_gnn::csr_transpose`` with a small cache keyed by the graph's storage.

    An entry keeps references to ``rowptr`` and ``col``, so their memory cannot be reused by other
    tensors while cached, and records their version counters, so in-place edits invalidate it. The
    last ``4`` graphs are kept. While tracing (torch.compile, AOT autograd: fake or functional tensor
    subclasses) the op is called directly.
    """
    if type(col) is not torch.Tensor or type(rowptr) is not torch.Tensor or torch.compiler.is_compiling():
        return torch.ops.darts_gnn.csr_transpose(rowptr, col)
    key = (col.device, col.data_ptr(), col.numel(), col.stride(), rowptr.data_ptr(), rowptr.numel(), rowptr.stride())
    hit = _CACHE.get(key)
    if hit is not None and hit[0]._version == hit[2] and hit[1]._version == hit[3]:
        _CACHE.move_to_end(key)
        return hit[4]
    result = torch.ops.darts_gnn.csr_transpose(rowptr, col)
    _CACHE[key] = (col, rowptr, col._version, rowptr._version, result)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


# -------------------------------------------------------------------------------------------- autograd

def _setup_context(ctx, inputs, output) -> None:
    rowptr, col, x, weights, ops, edge_weight, _save_arg = inputs
    _, arg = output
    ctx.ops = list(ops)
    ctx.has_edge_weight = edge_weight is not None
    ctx.save_for_backward(rowptr, col, x, weights, edge_weight, arg)
    ctx.mark_non_differentiable(arg)


def _backward(ctx, grad_out, _grad_arg):
    rowptr, col, x, weights, edge_weight, arg = ctx.saved_tensors
    need_x, need_w = ctx.needs_input_grad[2], ctx.needs_input_grad[3]
    need_ew = ctx.has_edge_weight and ctx.needs_input_grad[5]
    if not (need_x or need_w or need_ew):
        return None, None, None, None, None, None, None
    slots = _slots(ctx.ops)
    if slots and arg.size(0) != slots:
        raise RuntimeError("darts_gnn.mixed_aggregate: the forward ran with save_arg=False, so the gradient of max/min "
                           "cannot be routed; call darts_gnn.ops.mixed_aggregate, which sets save_arg from "
                           "requires_grad")
    if need_x or need_w:
        t_rowptr, t_row, t_eid = csr_transpose(rowptr, col)
    else:
        t_rowptr = t_row = t_eid = rowptr.new_empty(0)
    gx, gw, gew = torch.ops.darts_gnn.mixed_aggregate_backward(
        grad_out, rowptr, col, x, weights, ctx.ops, edge_weight, arg, t_rowptr, t_row, t_eid,
        [need_x, need_w, need_ew])
    return None, None, gx if need_x else None, gw if need_w else None, None, gew if need_ew else None, None


_registered = False


def register() -> None:
    """Register the fake kernels and the autograd formula (once; the C++ library must be loaded)."""
    global _registered
    if _registered:
        return
    torch.library.register_fake("darts_gnn::mixed_aggregate")(_mixed_aggregate_fake)
    torch.library.register_fake("darts_gnn::mixed_aggregate_backward")(_mixed_aggregate_backward_fake)
    torch.library.register_fake("darts_gnn::csr_transpose")(_csr_transpose_fake)
    torch.library.register_autograd("darts_gnn::mixed_aggregate", _backward, setup_context=_setup_context)
    _registered = True


# ------------------------------------------------------------------------------------------- public call

def mixed_aggregate(rowptr: Tensor, col: Tensor, x: Tensor, weights: Tensor, ops: Sequence[int],
                    edge_weight: Optional[Tensor] = None) -> Tensor:
    """Call the fused op, saving the max/min bitmasks only when a gradient will need them."""
    if edge_weight is not None and edge_weight.dtype != x.dtype:
        edge_weight = edge_weight.to(x.dtype)
    needs_grad = x.requires_grad or weights.requires_grad or (edge_weight is not None and edge_weight.requires_grad)
    save_arg = bool(torch.is_grad_enabled() and needs_grad and _slots(ops))
    out, _ = torch.ops.darts_gnn.mixed_aggregate(rowptr, col, x, weights, list(ops), edge_weight, save_arg)
    return out
