r"""Mixed (supernet) layers: every candidate of a choice at once, weighted by the relaxed α.

Each module takes the mixing weights ``w`` ``[K]`` of its choice as a forward argument (the weights
live in :class:`~darts_gnn.search.SuperNet`, never here), or ``None`` when the choice has a single
candidate (then that candidate runs unweighted).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

__all__ = ["MixedAggregate", "MixedTransform", "MixedSkip", "MixedLayer", "MixedCombine", "width_masks"]


def _mix(outs: list[Tensor], w: Tensor | None) -> Tensor:
    if w is None:
        return outs[0]
    total = w[0] * outs[0]
    for k in range(1, len(outs)):
        total = total + w[k] * outs[k]
    return total


class MixedAggregate(nn.Module):
    r""":math:`\sum_k w_k\, \mathrm{agg}_k(G, x)` over the candidate aggregators ``names``.

    The native ones (``sum``, ``mean``, ``gcn``, ``max``, ``min``) run in **one**
    :func:`darts_gnn.ops.mixed_aggregate` call with their weights; the others (``attn`` and
    user-registered ones) run as modules and are added with theirs. ``x`` ``[N, d]`` -> ``[N, d]``.
    """

    def __init__(self, names: Sequence[str], dim: int, registry):
        super().__init__()
        self.names = list(names)
        cands = [registry.get("aggregator", n) for n in self.names]
        self.native_pos = [k for k, c in enumerate(cands) if c.native]
        self.native_ops = tuple(cands[k].native for k in self.native_pos)
        self.custom_pos = [k for k, c in enumerate(cands) if not c.native]
        self.custom = nn.ModuleList(cands[k].build(dim) for k in self.custom_pos)
        self.register_buffer("_native_index", torch.tensor(self.native_pos, dtype=torch.long), persistent=False)

    def forward(self, graph, x: Tensor, w: Tensor | None) -> Tensor:
        from ..ops import mixed_aggregate
        if w is None:
            w = x.new_ones(1)
        out = None
        if self.native_ops:
            out = mixed_aggregate(graph.rowptr, graph.col, x, w.index_select(0, self._native_index),
                                  self.native_ops)
        for k, module in zip(self.custom_pos, self.custom):
            y = w[k] * module(graph, x)
            out = y if out is None else out + y
        return out

    def extra_repr(self) -> str:
        return f"names={self.names}, fused={list(self.native_ops)}"


class MixedTransform(nn.Module):
    r""":math:`\sum_k w_k\, T_k(x)` over the candidate transforms ``names`` (each with its own weights)."""

    def __init__(self, names: Sequence[str], dim: int, registry):
        super().__init__()
        self.names = list(names)
        self.ops = nn.ModuleList(registry.get("transform", n).build(dim) for n in self.names)

    def forward(self, x: Tensor, w: Tensor | None) -> Tensor:
        return _mix([op(x) for op in self.ops] if w is not None else [self.ops[0](x)], w)


class MixedSkip(nn.Module):
    r""":math:`\sum_k w_k\, \mathrm{skip}_k(x_{in}, x_{out})` over the candidate skips ``names``."""

    def __init__(self, names: Sequence[str], dim: int, registry):
        super().__init__()
        self.names = list(names)
        self.ops = nn.ModuleList(registry.get("skip", n).build(dim) for n in self.names)

    def forward(self, x_in: Tensor, x_out: Tensor, w: Tensor | None) -> Tensor:
        if w is None:
            return self.ops[0](x_in, x_out)
        return _mix([op(x_in, x_out) for op in self.ops], w)


class MixedLayer(nn.Module):
    """One supernet layer: mixed aggregator, then mixed transform, then mixed skip."""

    def __init__(self, aggregators: Sequence[str], transforms: Sequence[str], skips: Sequence[str], dim: int,
                 registry):
        super().__init__()
        self.aggregator = MixedAggregate(aggregators, dim, registry)
        self.transform = MixedTransform(transforms, dim, registry)
        self.skip = MixedSkip(skips, dim, registry)

    def forward(self, graph, x: Tensor, w_agg: Tensor | None, w_transform: Tensor | None,
                w_skip: Tensor | None) -> Tensor:
        h = self.aggregator(graph, x, w_agg)
        h = self.transform(h, w_transform)
        return self.skip(x, h, w_skip)


class MixedCombine(nn.Module):
    r"""Layer combination and depth together:

    .. math::
        e = \sum_{d \in \text{depths}} w^{depth}_d \sum_c w^{combine}_c\, \mathrm{combine}_c(h^{(0)}, \dots, h^{(d)})

    ``hs`` holds ``h^(0) .. h^(max depth)``.
    """

    def __init__(self, names: Sequence[str], depths: Sequence[int], dim: int, registry):
        super().__init__()
        self.names = list(names)
        self.depths = list(depths)
        n_inputs = max(self.depths) + 1
        self.ops = nn.ModuleList(registry.get("combine", n).build(dim, n_inputs) for n in self.names)

    def forward(self, hs: list[Tensor], w_combine: Tensor | None, w_depth: Tensor | None) -> Tensor:
        depths = self.depths if w_depth is not None else self.depths[:1]
        ops = self.ops if w_combine is not None else self.ops[:1]
        per_depth = [_mix([op(hs[:d + 1]) for op in ops], w_combine) for d in depths]
        return _mix(per_depth, w_depth)


def width_masks(widths: Sequence[int]) -> Tensor:
    """``[len(widths), max(widths)]`` 0/1 masks: row ``j`` keeps the first ``widths[j]`` channels."""
    m = max(widths)
    return (torch.arange(m).unsqueeze(0) < torch.tensor(list(widths)).unsqueeze(1)).float()
