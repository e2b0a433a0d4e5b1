"""The discrete model of a genotype: what a search hands to the trainer."""
from __future__ import annotations

import torch
from torch import nn

from ..nn.base import Recommender
from ..nn.graphcache import DeviceGraph
from .registry import REGISTRY
from ..errors import UserError
from .fusion import FeatureFusion

__all__ = ["GenotypeNet", "GenotypeLayer"]


class GenotypeLayer(nn.Module):
    r"""One propagation layer :math:`h' = \mathrm{skip}(h, \mathrm{transform}(\mathrm{aggregator}(G, h)))`."""

    def __init__(self, aggregator: nn.Module, transform: nn.Module, skip: nn.Module):
        super().__init__()
        self.aggregator = aggregator
        self.transform = transform
        self.skip = skip

    def forward(self, graph, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x, self.transform(self.aggregator(graph, x)))


class GenotypeNet(Recommender):
    r"""A GNN recommender built from a :class:`~darts_gnn.space.genotype.Genotype`.

    .. math::
        h^{(0)} = [E_U; E_I], \quad h^{(l+1)} = \mathrm{layer}_l(G, h^{(l)}), \quad
        e = \mathrm{combine}(h^{(0)}, \dots, h^{(D)}), \quad \hat y_{ui} = \langle e_u, e_i\rangle

    (with ``genotype.norm``, :math:`e \leftarrow e / \lVert e \rVert_2` row-wise: cosine scores).

    Ego tables ``user_emb`` ``[U, d]`` and ``item_emb`` ``[I, d]`` (:math:`\mathcal N(0, 0.1^2)`, the
    same names and initialisation as :class:`~darts_gnn.nn.LightGCN`, so its ``state_dict`` loads into
    the LightGCN genotype's model), ``d`` = the genotype's width unless ``dim`` is given.

    Args:
        genotype: the architecture.
        graph: the training :class:`~darts_gnn.data.Graph`.
        dim: embedding width override.
        registry: where the candidate names are looked up (default: :data:`darts_gnn.space.registry.REGISTRY`).
        item_features, user_features: content features ``[I, d_f]`` / ``[U, d_u]``, used when the
            genotype's ``features`` gene has a content source (:class:`~darts_gnn.space.fusion.FeatureFusion`).
    """

    def __init__(self, genotype, graph, dim: int | None = None, registry=None, item_features=None,
                 user_features=None):
        super().__init__()
        registry = registry or REGISTRY
        self.genotype = genotype
        self.n_users, self.n_items = int(graph.n_users), int(graph.n_items)
        self.dim = int(dim if dim is not None else genotype.width)
        if self.dim <= 0:
            raise ValueError(f"GenotypeNet: dim must be positive, got {self.dim}")
        self.graph = DeviceGraph(graph)
        self.init_tables(self.dim)
        self.layers = nn.ModuleList(
            GenotypeLayer(registry.get("aggregator", g.aggregator).build(self.dim),
                          registry.get("transform", g.transform).build(self.dim),
                          registry.get("skip", g.skip).build(self.dim))
            for g in genotype.layers)
        self.combine = registry.get("combine", genotype.combine).build(self.dim, genotype.depth + 1)
        self.fusion = _feature_fusion(genotype, self, item_features, user_features, registry)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.reset_tables()
        parts = [m for layer in self.layers for m in (layer.aggregator, layer.transform, layer.skip)]
        for m in parts + [self.combine] + ([self.fusion] if self.fusion is not None else []):
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        if self.fusion is not None:  # content features (issue 11)
            x = self.fusion(x, self._propagate)
        else:
            x = self._propagate(x)
        if getattr(self.genotype, "norm", False):
            x = torch.nn.functional.normalize(x, dim=-1)
        return x.split([self.n_users, self.n_items])

    def ego_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer-0 tables; with content features, the fused layer-0 vectors ``S(E, C)`` (so the L2
        term also bounds the content projections, which are the ego embeddings of content items)."""
        if self.fusion is None:
            return super().ego_embeddings()
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        return self.fusion.source(x).split([self.n_users, self.n_items])

    def _propagate(self, x: torch.Tensor) -> torch.Tensor:
        if not self.layers:
            return x
        graph = self.graph.get(x.device)
        hs = [x]
        for layer in self.layers:
            x = layer(graph, x)
            hs.append(x)
        return self.combine(hs)

    def extra_repr(self) -> str:
        return f"users={self.n_users}, items={self.n_items}, dim={self.dim}, genotype={self.genotype.summary()!r}"


def _feature_fusion(genotype, net: GenotypeNet, item_features, user_features, registry):
    """The :class:`~darts_gnn.space.fusion.FeatureFusion` of ``genotype.features``; ``None`` for ids only."""
    gene = getattr(genotype, "features", None)
    if gene is None or gene.source == "id":
        return None
    if item_features is None:
        raise UserError(f"genotype uses content features ({gene.short()}): pass item_features "
                        f"[n_items, d_f] (see darts_gnn.features; in a config: features.items)")
    return FeatureFusion.from_gene(gene, net.n_users, net.n_items, net.dim, item_features, user_features, registry)
