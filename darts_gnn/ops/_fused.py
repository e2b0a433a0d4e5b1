"""Python side of the fused ``darts_gnn::*`` operators: fake kernels and autograd.

:func:`register` is called by :mod:`darts_gnn.ops._extension` once the C++ library (which defines the
schemas with ``TORCH_LIBRARY``) is loaded.

Autograd, exact to every order. Write ``L = sum_k w_k A_k`` for the mixture as a linear operator on
``x``: ``A_k`` has the entries ``ew_e * s_k(e)`` (``s_k`` = 1, ``1/deg(v)`` or ``dinv(v) dinv(u)``) for
sum/mean/gcn and, for max/min, routes column ``j`` of row ``v`` to the winning edge saved by the
forward (``arg``: int64 bitmasks ``[S, E, ceil(d/64)]``). With the routing frozen the op is
multilinear in ``(x, w, ew)``, and two primitives close under differentiation:

* ``F(y; w, ew) = L y`` (:func:`_apply`: the fused forward for the linear aggregators, a gather along
  the saved routes for max/min), and
* ``B(g, y; w, ew) = (L^T g, [<A_k y, g>]_k, d<L y, g>/d ew)``: the fused backward kernel
  ``darts_gnn::mixed_aggregate_backward``.

The gradient of ``mixed_aggregate`` is ``B``; the gradient of ``B`` (registered on that operator) is
made of ``F`` and ``B`` again, so double backward (Hessians, second-order search) is exact, not
zero. The first-order backward is the fused kernel itself, unchanged in cost.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Sequence

import torch
from torch import Tensor

from . import _extension
from ._checks import AGGREGATORS
from .csr import csr_transpose

__all__ = ["mixed_aggregate", "aggregate_stack", "csr_transpose", "register"]

_SUM, _MEAN = AGGREGATORS.index("sum"), AGGREGATORS.index("mean")
_MAX, _MIN = AGGREGATORS.index("max"), AGGREGATORS.index("min")
_EXTREMA = (_MAX, _MIN)


def _slots(ops: Sequence[int]) -> int:
    """Number of max/min bitmask slots the forward saves for ``ops``."""
    s = set(ops)
    return int(_MAX in s) + int(_MIN in s)


def _slot(ops: Sequence[int], code: int) -> int:
    """Index of ``code``'s bitmask in ``arg`` (max first, then min, among those present)."""
    return [c for c in _EXTREMA if c in set(ops)].index(code)


# ------------------------------------------------------------------------------------------ fake kernels

def _arg_fake(x: Tensor, col: Tensor, ops, save_arg: bool) -> Tensor:
    words = (x.shape[1] + 63) // 64
    return x.new_empty((_slots(ops) if save_arg else 0, col.numel(), words), dtype=torch.int64)


def _mixed_aggregate_fake(rowptr, col, x, weights, ops, edge_weight=None, save_arg=False):
    return x.new_empty(x.shape), _arg_fake(x, col, ops, save_arg)


def _aggregate_stack_fake(rowptr, col, x, ops, edge_weight=None, save_arg=False):
    return x.new_empty((len(ops), *x.shape)), _arg_fake(x, col, ops, save_arg)


def _mixed_aggregate_backward_fake(grad_out, rowptr, col, x, weights, ops, edge_weight, arg, t_rowptr, t_row, t_eid,
                                   output_mask):
    need_x, need_w, need_ew = output_mask
    need_ew = need_ew and edge_weight is not None
    return (x.new_empty(x.shape if need_x else (0,)), weights.new_empty((weights.numel() if need_w else 0,)),
            x.new_empty((col.numel() if need_ew else 0,)))


def _csr_transpose_fake(rowptr, col):
    return rowptr.new_empty(rowptr.shape), col.new_empty(col.shape), col.new_empty(col.shape)


def _transpose_if(needed: bool, rowptr: Tensor, col: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    if needed:
        return csr_transpose(rowptr, col)
    empty = rowptr.new_empty(0)
    return empty, empty, empty


# ------------------------------------------------------------------------- the two closed primitives

_ROUTES: "OrderedDict[tuple, tuple]" = OrderedDict()
_ROUTES_SIZE = 6


def _winners(rowptr: Tensor, col: Tensor, mask: Tensor, d: int) -> Tensor:
    """The saved max (or min) routing ``mask`` ``[E, words]`` as ``win`` ``[N*d]`` int32: ``win[v*d + j]``
    is the winning edge of column ``j`` of row ``v``, -1 on empty rows.

    Cached for the last 6 masks (keyed by storage and version; an entry holds references to the mask
    and the graph, so the keyed memory cannot be reused): the power iteration of the eigenvalue guard
    replays one double-backward graph many times."""
    traced = type(mask) is not torch.Tensor or torch.compiler.is_compiling()
    key = None if traced else (mask.device, mask.data_ptr(), mask.shape, mask._version, col.data_ptr(),
                                col._version, rowptr.data_ptr(), rowptr._version, d)
    hit = _ROUTES.get(key) if key is not None else None
    if hit is not None:
        _ROUTES.move_to_end(key)
        return hit[-1]
    n = rowptr.numel() - 1
    row = torch.repeat_interleave(torch.arange(n, device=col.device), rowptr.diff(), output_size=col.numel())
    win = torch.full((n * d,), -1, dtype=torch.int32, device=col.device)  # E < 2^31 (the kernels' limit)
    for j in range(d):  # one pass of E per column: memory stays O(E + N d), not O(E d)
        hit_edges = ((mask[:, j >> 6] >> (j & 63)) & 1).nonzero().squeeze(1)
        win[row[hit_edges] * d + j] = hit_edges.to(torch.int32)
    if key is not None:
        _ROUTES[key] = (mask, col, rowptr, win)
        while len(_ROUTES) > _ROUTES_SIZE:
            _ROUTES.popitem(last=False)
    return win


def _routed(rowptr: Tensor, col: Tensor, y: Tensor, ew: Optional[Tensor], mask: Tensor) -> Tensor:
    """``A y`` of max (or min) with the routing frozen: ``out[v, j] = ew[e] * y[col[e], j]`` for the saved
    winner ``e`` of ``(v, j)``, 0 on empty rows. A gather, differentiable in ``y`` and ``ew``."""
    n, d = y.shape
    win = _winners(rowptr, col, mask, d)
    dst = (win >= 0).nonzero().squeeze(1)
    e = win.index_select(0, dst).long()
    vals = y.reshape(-1).index_select(0, col.index_select(0, e) * d + dst % max(d, 1))
    if ew is not None:
        vals = vals * ew.index_select(0, e)
    return y.new_zeros(n * d).index_add(0, dst, vals).view(n, d)


def _apply(rowptr: Tensor, col: Tensor, y: Tensor, w: Tensor, ops: list[int], ew: Optional[Tensor],
           arg: Tensor) -> Tensor:
    """``F(y; w, ew) = sum_k w[k] A_{ops[k]} y`` with the max/min routing of ``arg`` frozen."""
    out = None
    lin = [k for k, c in enumerate(ops) if c not in _EXTREMA]
    if lin:
        w_lin = w.index_select(0, torch.tensor(lin, device=w.device))
        out, _ = torch.ops.darts_gnn.mixed_aggregate(rowptr, col, y, w_lin, [ops[k] for k in lin], ew, False)
    for code in _EXTREMA:
        ks = [k for k, c in enumerate(ops) if c == code]
        if ks:
            coef = w.index_select(0, torch.tensor(ks, device=w.device)).sum().to(y.dtype)
            term = coef * _routed(rowptr, col, y, ew, arg[_slot(ops, code)])
            out = term if out is None else out + term
    return out


def _backward_op(g, rowptr, col, y, w, ops, ew, arg, t, need) -> tuple[Tensor, Tensor, Tensor]:
    """``B(g, y; w, ew)`` restricted to the outputs selected by ``need`` (the fused backward kernel)."""
    return torch.ops.darts_gnn.mixed_aggregate_backward(g, rowptr, col, y, w, ops, ew, arg, *t, list(need))


# -------------------------------------------------------------------------------------------- autograd

def _check_arg(ops: Sequence[int], arg: Tensor) -> None:
    slots = _slots(ops)
    if slots and arg.size(0) != slots:
        raise RuntimeError("darts_gnn: the forward ran with save_arg=False, so the gradient of max/min cannot be "
                           "routed; call darts_gnn.ops.mixed_aggregate / aggregate_stack, which set save_arg from "
                           "requires_grad")


def _setup_context(ctx, inputs, output) -> None:
    rowptr, col, x, weights, ops, edge_weight, _save_arg = inputs
    ctx.ops = list(ops)
    ctx.save_for_backward(rowptr, col, x, weights, edge_weight, output[1])
    ctx.mark_non_differentiable(output[1])


def _backward(ctx, grad_out, _grad_arg):
    rowptr, col, x, weights, edge_weight, arg = ctx.saved_tensors
    need_x, need_w = ctx.needs_input_grad[2], ctx.needs_input_grad[3]
    need_ew = edge_weight is not None and ctx.needs_input_grad[5]
    if not (need_x or need_w or need_ew):
        return None, None, None, None, None, None, None
    _check_arg(ctx.ops, arg)
    t = _transpose_if(need_x or need_w, rowptr, col)
    gx, gw, gew = _backward_op(grad_out, rowptr, col, x, weights, ctx.ops, edge_weight, arg, t,
                               (need_x, need_w, need_ew))
    return None, None, gx if need_x else None, gw if need_w else None, None, gew if need_ew else None, None


def _stack_setup_context(ctx, inputs, output) -> None:
    rowptr, col, x, ops, edge_weight, _save_arg = inputs
    ctx.ops = list(ops)
    ctx.save_for_backward(rowptr, col, x, edge_weight, output[1])
    ctx.mark_non_differentiable(output[1])


def _stack_cotangents(grad_out: Tensor, rowptr: Tensor, ops: Sequence[int]) -> dict[int, Tensor]:
    """``grad_out [K, N, d]`` summed per distinct aggregator, with ``mean`` folded into ``sum``
    (``A_mean = D^-1 A_sum``, so ``A_mean^T g = A_sum^T (D^-1 g)``): one backward pass per group."""
    groups: dict[int, Tensor] = {}
    inv_deg = None
    for k, code in enumerate(ops):
        g = grad_out[k]
        if code == _MEAN:
            if inv_deg is None:
                deg = rowptr.diff().to(g.dtype)
                inv_deg = torch.where(deg > 0, 1.0 / deg.clamp(min=1), torch.zeros_like(deg)).unsqueeze(1)
            code, g = _SUM, g * inv_deg
        groups[code] = g if code not in groups else groups[code] + g
    return groups


def _stack_backward(ctx, grad_out, _grad_arg):
    """``out[k] = A_k x``: ``grad_x = sum_k A_k^T grad_out[k]``, ``grad_ew = sum_k d<A_k x, grad_out[k]>/d ew``,
    one fused backward per distinct aggregator (each ``B`` with the single op and unit weight; repeats
    and ``mean`` share ``sum``'s pass, see :func:`_stack_cotangents`)."""
    rowptr, col, x, edge_weight, arg = ctx.saved_tensors
    need_x = ctx.needs_input_grad[2]
    need_ew = edge_weight is not None and ctx.needs_input_grad[4]
    if not (need_x or need_ew):
        return None, None, None, None, None, None
    _check_arg(ctx.ops, arg)
    t = _transpose_if(need_x, rowptr, col)
    one = x.new_ones(1)
    gx = gew = None
    for code, g in _stack_cotangents(grad_out, rowptr, ctx.ops).items():
        mask = arg.narrow(0, _slot(ctx.ops, code), 1) if code in _EXTREMA else arg.narrow(0, 0, 0)
        hx, _, hew = _backward_op(g, rowptr, col, x, one, [code], edge_weight, mask, t, (need_x, False, need_ew))
        if need_x:
            gx = hx if gx is None else gx + hx
        if need_ew:
            gew = hew if gew is None else gew + hew
    return None, None, gx, None, gew, None


def _used(cotangent: Optional[Tensor], computed: bool, like: Optional[Tensor]) -> Optional[Tensor]:
    """The cotangent of an output of ``B`` if that output was computed (else ``None``)."""
    if not computed or cotangent is None or like is None or cotangent.shape != like.shape:
        return None
    return cotangent


def _backward_setup_context(ctx, inputs, output) -> None:
    g, rowptr, col, x, weights, ops, edge_weight, arg, t_rowptr, t_row, t_eid, mask = inputs
    ctx.ops, ctx.mask = list(ops), list(mask)
    ctx.save_for_backward(g, rowptr, col, x, weights, edge_weight, arg, t_rowptr, t_row, t_eid)


def _backward_backward(ctx, cot_x, cot_w, cot_ew):
    r"""Gradient of ``B = (L^T g, [<A_k x, g>]_k, d<L x, g>/d ew)`` in ``(g, x, w, ew)``, as ``F`` and ``B``:

    * from ``cot_x``:  ``dg += F(cot_x; w, ew)``, ``(dw, dew) += B_{w, ew}(g, cot_x; w, ew)``
    * from ``cot_w``:  ``dg += F(x; cot_w, ew)``, ``(dx, dew) += B_{x, ew}(g, x; cot_w, ew)``
    * from ``cot_ew``: ``dg += F(x; w, cot_ew)``, ``(dx, dw) += B_{x, w}(g, x; w, cot_ew)``
    """
    g, rowptr, col, x, w, ew, arg, *t = ctx.saved_tensors
    ops = ctx.ops
    cx = _used(cot_x, ctx.mask[0], x)
    cw = _used(cot_w, ctx.mask[1], w)
    cew = _used(cot_ew, ctx.mask[2], ew)
    n_g, n_x, n_w = ctx.needs_input_grad[0], ctx.needs_input_grad[3], ctx.needs_input_grad[4]
    n_ew = ew is not None and ctx.needs_input_grad[6]
    if t[0].numel() == 0 and (n_x or n_w):
        t = list(csr_transpose(rowptr, col))
    grads = {"g": None, "x": None, "w": None, "ew": None}

    def add(name: str, value: Tensor) -> None:
        grads[name] = value if grads[name] is None else grads[name] + value

    for cot, y, wk, ek, free in ((cx, cx, w, ew, "x"), (cw, x, cw, ew, "w"), (cew, x, w, cew, "ew")):
        if cot is None:
            continue
        if n_g:
            add("g", _apply(rowptr, col, y, wk, ops, ek, arg))
        need = {"x": n_x and free != "x", "w": n_w and free != "w", "ew": n_ew and free != "ew"}
        if any(need.values()):
            hx, hw, hew = _backward_op(g, rowptr, col, y, wk, ops, ek, arg, t, (need["x"], need["w"], need["ew"]))
            for name, h in (("x", hx), ("w", hw), ("ew", hew)):
                if need[name]:
                    add(name, h)
    return grads["g"], None, None, grads["x"], grads["w"], None, grads["ew"], None, None, None, None, None


_registered = False


def register() -> None:
    """Register the fake kernels and the autograd formulas (once; the C++ library must be loaded)."""
    global _registered
    if _registered:
        return
    torch.library.register_fake("darts_gnn::mixed_aggregate")(_mixed_aggregate_fake)
    torch.library.register_fake("darts_gnn::aggregate_stack")(_aggregate_stack_fake)
    torch.library.register_fake("darts_gnn::mixed_aggregate_backward")(_mixed_aggregate_backward_fake)
    torch.library.register_fake("darts_gnn::csr_transpose")(_csr_transpose_fake)
    torch.library.register_autograd("darts_gnn::mixed_aggregate", _backward, setup_context=_setup_context)
    torch.library.register_autograd("darts_gnn::aggregate_stack", _stack_backward,
                                    setup_context=_stack_setup_context)
    torch.library.register_autograd("darts_gnn::mixed_aggregate_backward", _backward_backward,
                                    setup_context=_backward_setup_context)
    _registered = True


# ------------------------------------------------------------------------------------------- public call

def _save_arg(ops: Sequence[int], *leaves: Optional[Tensor]) -> bool:
    needs_grad = any(t is not None and t.requires_grad for t in leaves)
    return bool(torch.is_grad_enabled() and needs_grad and _slots(ops))


def mixed_aggregate(rowptr: Tensor, col: Tensor, x: Tensor, weights: Tensor, ops: Sequence[int],
                    edge_weight: Optional[Tensor] = None) -> Tensor:
    """Call the fused op, saving the max/min bitmasks only when a gradient will need them."""
    if edge_weight is not None and edge_weight.dtype != x.dtype:
        edge_weight = edge_weight.to(x.dtype)
    save_arg = _save_arg(ops, x, weights, edge_weight)
    out, _ = torch.ops.darts_gnn.mixed_aggregate(rowptr, col, x, weights, list(ops), edge_weight, save_arg)
    return out


def aggregate_stack(rowptr: Tensor, col: Tensor, x: Tensor, ops: Sequence[int],
                    edge_weight: Optional[Tensor] = None) -> Tensor:
    """Call the fused one-pass stack op ``[K, N, d]``; bitmasks saved only when a gradient needs them."""
    if edge_weight is not None and edge_weight.dtype != x.dtype:
        edge_weight = edge_weight.to(x.dtype)
    save_arg = _save_arg(ops, x, edge_weight)
    out, _ = torch.ops.darts_gnn.aggregate_stack(rowptr, col, x, list(ops), edge_weight, save_arg)
    return out


_extension.on_load(register)
