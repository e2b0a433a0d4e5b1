r"""Mixed (supernet) layers: every candidate of a choice at once, weighted by the relaxed α.

Each module takes the mixing weights ``w`` ``[K]`` of its choice as a forward argument (the weights
live in :class:`~darts_gnn.search.SuperNet`, never here), or ``None`` when the choice has a single
candidate (then that candidate runs unweighted).

Scale policy (``scale_norm``), the fairness of the mixture: the candidates of one choice can differ
in output scale by two orders of magnitude (``sum`` against ``gcn`` aggregation, ``sum`` against
``mean`` combination, a residual against none), and a large-output candidate then dominates the mixed
signal at a small weight, so the others are never trained inside the supernet. With ``"rms"`` every
candidate's output :math:`o_k` is rescaled to the root mean square of the choice's input :math:`x`
before mixing,

.. math::
    \tilde o_k = o_k \, \frac{\mathrm{rms}(x)}{\mathrm{rms}(o_k) + \epsilon}, \qquad
    \mathrm{rms}(t) = \sqrt{\tfrac{1}{N d} \textstyle\sum t^2},

(differentiable; in the spirit of the non-affine BatchNorm after every DARTS candidate, Liu et al.,
ICLR 2019). ``"none"`` mixes the raw outputs. Single-candidate choices are never rescaled.

Without autograd (evaluation under ``torch.no_grad``) a candidate whose weight is exactly 0 is not
computed: the supernet with α one-hot at a genotype (greedy derivation, one-shot scores) then costs
about one candidate per choice instead of all of them, with the same result (its term would be
``0 * o_k``). While autograd records, every candidate runs (α's gradient needs each output).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from ..ops import aggregate_stack, mixed_aggregate

__all__ = ["MixedAggregate", "MixedTransform", "MixedSkip", "MixedLayer", "MixedCombine", "width_masks",
           "SCALE_POLICIES", "rms"]

#: Scale policies of the mixture (see the module doc).
SCALE_POLICIES: tuple[str, ...] = ("rms", "none")
_EPS = 1e-12


def rms(t: Tensor) -> Tensor:
    r"""Root mean square of all entries, :math:`\sqrt{\mathrm{mean}(t^2)}` (a 0-d tensor)."""
    return t.pow(2).mean().sqrt()


def _check_policy(scale_norm: str) -> str:
    if scale_norm not in SCALE_POLICIES:
        raise ValueError(f"scale_norm: got {scale_norm!r}; allowed values: {', '.join(SCALE_POLICIES)}")
    return scale_norm


def _live(w: Tensor | None, n: int) -> list[int]:
    """The candidates (of ``n``) whose outputs the mixture needs: all while autograd records, else
    those with a non-zero weight (module doc); ``[0]`` for a single-candidate choice (``w`` is ``None``)."""
    if w is None:
        return [0]
    if torch.is_grad_enabled():
        return list(range(n))
    live = torch.nonzero(w.detach()).flatten().tolist()
    return live or list(range(n))


def _mix(outs: list[Tensor | None], w: Tensor | None, ref: Tensor | None = None) -> Tensor:
    """``sum_k w_k outs_k`` over the computed outputs (``None``: a candidate left out by :func:`_live`);
    with ``ref`` (the input's RMS) each output is first rescaled to it."""
    if w is None:
        return outs[0]
    total = None
    for k, o in enumerate(outs):
        if o is None:
            continue
        if ref is not None:
            o = o * (ref / (rms(o) + _EPS))
        total = w[k] * o if total is None else total + w[k] * o
    return total


class MixedAggregate(nn.Module):
    r""":math:`\sum_k w_k\, \mathrm{agg}_k(G, x)` over the candidate aggregators ``names``.

    The native ones (``sum``, ``mean``, ``gcn``, ``max``, ``min``) run in **one** pass over the
    graph: :func:`darts_gnn.ops.mixed_aggregate` with their weights (``scale_norm="none"``), or
    :func:`darts_gnn.ops.aggregate_stack` ``[K, N, d]`` whose per-op outputs are rescaled before
    mixing (``"rms"``); the others (``attn`` and user-registered ones) run as modules and are added
    with theirs. ``x`` ``[N, d]`` -> ``[N, d]``.
    """

    def __init__(self, names: Sequence[str], dim: int, registry, scale_norm: str = "none"):
        super().__init__()
        self.scale_norm = _check_policy(scale_norm)
        self.names = list(names)
        cands = [registry.get("aggregator", n) for n in self.names]
        self.native_pos = [k for k, c in enumerate(cands) if c.native]
        self.native_ops = tuple(cands[k].native for k in self.native_pos)
        self.custom_pos = [k for k, c in enumerate(cands) if not c.native]
        self.custom = nn.ModuleList(cands[k].build(dim) for k in self.custom_pos)
        self.register_buffer("_native_index", torch.tensor(self.native_pos, dtype=torch.long), persistent=False)

    def forward(self, graph, x: Tensor, w: Tensor | None) -> Tensor:
        if w is not None and self.scale_norm == "rms" and len(self.names) > 1:
            return self._normalised(graph, x, w)
        live = set(_live(w, len(self.names)))
        if w is None:
            w = x.new_ones(1)
        out = None
        natives = [(j, k) for j, k in enumerate(self.native_pos) if k in live]
        if natives:
            index = self._native_index if len(natives) == len(self.native_pos) else \
                torch.tensor([k for _, k in natives], dtype=torch.long, device=self._native_index.device)
            out = mixed_aggregate(graph.rowptr, graph.col, x, w.index_select(0, index),
                                  tuple(self.native_ops[j] for j, _ in natives))
        for k, module in zip(self.custom_pos, self.custom):
            if k in live:
                y = w[k] * module(graph, x)
                out = y if out is None else out + y
        return out

    def _normalised(self, graph, x: Tensor, w: Tensor) -> Tensor:
        live = set(_live(w, len(self.names)))
        outs: list[Tensor | None] = [None] * len(self.names)
        natives = [(j, k) for j, k in enumerate(self.native_pos) if k in live]
        if natives:   # [K_live, N, d] in one pass over the graph
            stack = aggregate_stack(graph.rowptr, graph.col, x, tuple(self.native_ops[j] for j, _ in natives))
            for i, (_, k) in enumerate(natives):
                outs[k] = stack[i]
        for k, module in zip(self.custom_pos, self.custom):
            if k in live:
                outs[k] = module(graph, x)
        return _mix(outs, w, rms(x))

    def extra_repr(self) -> str:
        return f"names={self.names}, fused={list(self.native_ops)}, scale_norm={self.scale_norm!r}"


class MixedTransform(nn.Module):
    r""":math:`\sum_k w_k\, T_k(x)` over the candidate transforms ``names`` (each with its own weights)."""

    def __init__(self, names: Sequence[str], dim: int, registry, scale_norm: str = "none"):
        super().__init__()
        self.scale_norm = _check_policy(scale_norm)
        self.names = list(names)
        self.ops = nn.ModuleList(registry.get("transform", n).build(dim) for n in self.names)

    def forward(self, x: Tensor, w: Tensor | None) -> Tensor:
        if w is None:
            return self.ops[0](x)
        live = set(_live(w, len(self.ops)))
        return _mix([op(x) if k in live else None for k, op in enumerate(self.ops)], w,
                    rms(x) if self.scale_norm == "rms" else None)


class MixedSkip(nn.Module):
    r""":math:`\sum_k w_k\, \mathrm{skip}_k(x_{in}, x_{out})` over the candidate skips ``names``."""

    def __init__(self, names: Sequence[str], dim: int, registry, scale_norm: str = "none"):
        super().__init__()
        self.scale_norm = _check_policy(scale_norm)
        self.names = list(names)
        self.ops = nn.ModuleList(registry.get("skip", n).build(dim) for n in self.names)

    def forward(self, x_in: Tensor, x_out: Tensor, w: Tensor | None) -> Tensor:
        if w is None:
            return self.ops[0](x_in, x_out)
        live = set(_live(w, len(self.ops)))
        return _mix([op(x_in, x_out) if k in live else None for k, op in enumerate(self.ops)], w,
                    rms(x_in) if self.scale_norm == "rms" else None)


class MixedLayer(nn.Module):
    """One supernet layer: mixed aggregator, then mixed transform, then mixed skip."""

    def __init__(self, aggregators: Sequence[str], transforms: Sequence[str], skips: Sequence[str], dim: int,
                 registry, scale_norm: str = "none"):
        super().__init__()
        self.aggregator = MixedAggregate(aggregators, dim, registry, scale_norm)
        self.transform = MixedTransform(transforms, dim, registry, scale_norm)
        self.skip = MixedSkip(skips, dim, registry, scale_norm)

    def forward(self, graph, x: Tensor, w_agg: Tensor | None, w_transform: Tensor | None,
                w_skip: Tensor | None) -> Tensor:
        h = self.aggregator(graph, x, w_agg)
        h = self.transform(h, w_transform)
        return self.skip(x, h, w_skip)


class MixedCombine(nn.Module):
    r"""Layer combination and depth together:

    .. math::
        e = \sum_{d \in \text{depths}} w^{depth}_d \sum_c w^{combine}_c\, \mathrm{combine}_c(h^{(0)}, \dots, h^{(d)})

    ``hs`` holds ``h^(0) .. h^(max depth)``. With ``scale_norm="rms"`` every combine output and every
    per-depth output is rescaled to :math:`\mathrm{rms}(h^{(0)})` before mixing.
    """

    def __init__(self, names: Sequence[str], depths: Sequence[int], dim: int, registry, scale_norm: str = "none"):
        super().__init__()
        self.scale_norm = _check_policy(scale_norm)
        self.names = list(names)
        self.depths = list(depths)
        n_inputs = max(self.depths) + 1
        self.ops = nn.ModuleList(registry.get("combine", n).build(dim, n_inputs) for n in self.names)

    def forward(self, hs: list[Tensor], w_combine: Tensor | None, w_depth: Tensor | None) -> Tensor:
        depths = self.depths if w_depth is not None else self.depths[:1]
        ops = self.ops if w_combine is not None else self.ops[:1]
        ref = rms(hs[0]) if self.scale_norm == "rms" else None
        live_c, live_d = set(_live(w_combine, len(ops))), set(_live(w_depth, len(depths)))
        per_depth = [_mix([op(hs[:d + 1]) if c in live_c else None for c, op in enumerate(ops)], w_combine, ref)
                     if i in live_d else None for i, d in enumerate(depths)]
        return _mix(per_depth, w_depth, ref)


def width_masks(widths: Sequence[int]) -> Tensor:
    """``[len(widths), max(widths)]`` 0/1 masks: row ``j`` keeps the first ``widths[j]`` channels."""
    m = max(widths)
    return (torch.arange(m).unsqueeze(0) < torch.tensor(list(widths)).unsqueeze(1)).float()
