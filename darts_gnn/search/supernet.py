r"""The supernet: every architecture of a :class:`~darts_gnn.space.registry.SearchSpace` at once.

.. code-block:: python

    net = SuperNet(SearchSpace(n_layers=2), graph)
    users, items = net.embeddings()           # mixed by the relaxed alpha
    net.arch_parameters()                     # alpha, one row per choice (optimise on validation)
    net.weights()                             # everything else (optimise on training)
    net.genotype()                            # argmax per choice -> Genotype
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..nn.base import Recommender
from ..nn.graphcache import DeviceGraph
from ..space.mixed import MixedCombine, MixedLayer, width_masks
from ..space.registry import SearchSpace, SpaceError
from .alpha import ArchParameters
from .relax import build_relaxation
from ..space.genotype import Genotype, LayerGene
from ..space.fusion import FeatureFusion, FeatureGene, FeatureSpace

__all__ = ["SuperNet", "default_relaxation"]

#: α of the chosen candidate in :meth:`SuperNet.set_genotype`; the others get ``-ONE_HOT``. Large enough
#: that softmax and sigmoid give exactly 1 and 0 in float32.
ONE_HOT = 1.0e4


def default_relaxation(name: str = "softmax", **kw):
    """``darts_gnn.search.relax.build_relaxation(name, **kw)``."""
    return build_relaxation(name, **kw)


class SuperNet(Recommender):
    r"""Weight-sharing supernet over ``space`` on the training ``graph``.

    Forward (:meth:`embeddings`): with :math:`w_c = \mathrm{relax}(\alpha_c)` for every choice ``c``
    and the width mask :math:`m = \sum_j w^{width}_j \mathbb 1[\text{channel} < \text{width}_j]`
    (``[D]``, ``D`` = the widest width),

    .. math::
        h^{(0)} = [E_U; E_I] \odot m, \qquad
        h^{(l+1)} = m \odot \sum_s w^{skip_l}_s\, \mathrm{skip}_s\big(h^{(l)},
            \textstyle\sum_t w^{tr_l}_t\, T_t(\sum_a w^{agg_l}_a \mathrm{agg}_a(G, h^{(l)}))\big)

    then :class:`~darts_gnn.space.mixed.MixedCombine` over combine and depth. Ego tables ``user_emb``
    ``[U, D]``, ``item_emb`` ``[I, D]``, :math:`\mathcal N(0, \text{init\_std}^2)`. When α is one-hot
    (:meth:`set_genotype`), the first ``width`` channels equal the genotype's discrete model with the
    same tables (the rest are 0).

    α is one row per searched choice (``alpha.<i>``, the key is ``self.choice_keys[i]``), initialised
    to 0; every layer has its own rows. α is kept out of ``parameters()``
    (:class:`~darts_gnn.search.alpha.ArchParameters`: buffers that require grad, saved in
    ``state_dict``), so ``Adam(net.parameters())`` trains the weights only.

    Args:
        space: the :class:`~darts_gnn.space.registry.SearchSpace`.
        graph: the training :class:`~darts_gnn.data.Graph` (no validation or test edges).
        relaxation: object with ``weights(alpha)``, ``eval_weights(alpha)``, ``regularizer(w)``
            (see :mod:`darts_gnn.search.relax`); default softmax. In ``eval()`` mode the
            deterministic ``eval_weights`` are used.
        init_std: standard deviation of the ego tables.
        item_features, user_features: content features ``[I, d_f]`` / ``[U, d_u]`` (optional); with
            item features the fusion choices of ``feature_space`` (default: all) are searched too
            (:class:`~darts_gnn.space.fusion.FeatureFusion` around the propagation; keys ``features.*``).
        scale_norm: the mixture's scale policy, ``"rms"`` (rescale every candidate's output to the
            RMS of its input before mixing, so that no candidate dominates by scale) or ``"none"``
            (see :mod:`darts_gnn.space.mixed`). With ``"none"`` and one-hot α the supernet computes
            exactly the genotype's discrete model; with ``"rms"`` it does so up to one positive
            scalar per mixed choice.
    """

    def __init__(self, space: SearchSpace, graph, relaxation=None, init_std: float = 0.1,
                 scale_norm: str = "none", item_features=None, user_features=None, feature_space=None):
        super().__init__()
        self.scale_norm = scale_norm
        self.out_norm = False       # L2-normalised outputs (cosine scores): Searcher.set_objective
        self.space = space
        self.relaxation = relaxation if relaxation is not None else default_relaxation()
        self.init_std = float(init_std)
        self.n_users, self.n_items = int(graph.n_users), int(graph.n_items)
        self.graph = DeviceGraph(graph)
        self.dim = space.max_width
        reg = space.registry
        self.user_emb = nn.Embedding(self.n_users, self.dim)
        self.item_emb = nn.Embedding(self.n_items, self.dim)
        self.layers = nn.ModuleList(MixedLayer(space.aggregators, space.transforms, space.skips, self.dim, reg,
                                               scale_norm) for _ in range(space.max_depth))
        self.combine = MixedCombine(space.combines, space.depths, self.dim, reg, scale_norm)
        self.register_buffer("width_masks", width_masks(space.widths), persistent=False)
        self.fusion = _feature_fusion(feature_space, self, item_features, user_features, reg)
        self.choices = space.choices() + (self.fusion.choices() if self.fusion is not None else [])
        searched = [c for c in self.choices if c.searched]
        self.choice_keys = [c.key for c in searched]
        self._row = {c.key: i for i, c in enumerate(searched)}
        self.alpha = ArchParameters([len(c.candidates) for c in searched])
        self._last_weights: dict[str, Tensor] = {}
        self.reset_parameters()

    # ------------------------------------------------------------------ parameters
    def reset_parameters(self) -> None:
        """Re-initialise the weights (not α)."""
        nn.init.normal_(self.user_emb.weight, std=self.init_std)
        nn.init.normal_(self.item_emb.weight, std=self.init_std)
        for layer in self.layers:
            for mixed in (layer.aggregator.custom, layer.transform.ops, layer.skip.ops):
                for m in mixed:
                    if hasattr(m, "reset_parameters"):
                        m.reset_parameters()
        for m in self.combine.ops:
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
        if self.fusion is not None:
            self.fusion.reset_parameters()

    def reset_alpha(self) -> None:
        with torch.no_grad():
            for a in self.alpha:
                a.zero_()

    def arch_parameters(self) -> list[Tensor]:
        """α: one leaf row ``[K]`` per searched choice, in :attr:`choice_keys` order (not in
        ``parameters()``)."""
        return list(self.alpha)

    def named_arch_parameters(self) -> list[tuple[str, Tensor]]:
        return list(zip(self.choice_keys, self.alpha))

    def weights(self) -> list[nn.Parameter]:
        """The weights: ``list(self.parameters())`` (embedding tables, transforms, learned
        combinations); α is not among them."""
        return list(self.parameters())

    def ego_embeddings(self) -> tuple[Tensor, Tensor]:
        if self.fusion is None:
            return self.user_emb.weight, self.item_emb.weight
        # content features: the fused layer-0 vectors under the last forward pass's weights (issue 11)
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        return self.fusion.source(x, self._last_weights).split([self.n_users, self.n_items])

    # ------------------------------------------------------------------ α views
    def arch_weights(self, deterministic: bool | None = None) -> dict[str, Tensor | None]:
        """Mixing weights of every choice (``None`` for fixed ones): ``relaxation.weights(α)``, or
        the deterministic ``eval_weights`` when ``deterministic`` (default: in eval mode)."""
        if deterministic is None:
            deterministic = not self.training
        fn = self.relaxation.eval_weights if deterministic else self.relaxation.weights
        out: dict[str, Tensor | None] = {c.key: None for c in self.choices}
        for key, a in zip(self.choice_keys, self.alpha):
            out[key] = fn(a)
        return out

    def probabilities(self) -> dict[str, dict]:
        """``{choice key: {candidate: weight}}`` of the deterministic weights, as floats."""
        with torch.no_grad():
            w = self.arch_weights(deterministic=True)
        return {c.key: {str(n): float(v) for n, v in zip(c.candidates, w[c.key].tolist())}
                for c in self.choices if c.searched}

    def arch_regularizer(self) -> Tensor:
        """Sum of ``relaxation.regularizer`` over the weights of the last forward pass."""
        total = self.alpha[0].new_zeros(()) if len(self.alpha) else torch.zeros(())
        for key in self.choice_keys:
            w = self._last_weights.get(key)
            if w is not None:
                total = total + self.relaxation.regularizer(w)
        return total

    # ------------------------------------------------------------------ forward
    def embeddings(self) -> tuple[Tensor, Tensor]:
        w = self.arch_weights()
        self._last_weights = w
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        mask = None if w["width"] is None else w["width"] @ self.width_masks
        if self.fusion is None:
            out = self._propagate(x, w, mask)
        else:  # content features: fused at the input and/or after propagation (issue 11)
            out = self.fusion(x, lambda h: self._propagate(h, w, mask), w)
            out = out if mask is None else out * mask
        if self.out_norm:   # cosine scores (Searcher.set_objective)
            out = torch.nn.functional.normalize(out, dim=-1)
        return out.split([self.n_users, self.n_items])

    def _propagate(self, x: Tensor, w: dict, mask: Tensor | None) -> Tensor:
        if mask is not None:
            x = x * mask
        graph = self.graph.get(x.device)
        hs = [x]
        for l, layer in enumerate(self.layers):
            x = layer(graph, x, w[f"layer{l}.aggregator"], w[f"layer{l}.transform"], w[f"layer{l}.skip"])
            if mask is not None:
                x = x * mask
            hs.append(x)
        return self.combine(hs, w["combine"], w["depth"])

    # ------------------------------------------------------------------ discretisation
    def genotype(self):
        """Argmax of the deterministic weights per choice -> :class:`~darts_gnn.space.genotype.Genotype`;
        the layers beyond the chosen depth are dropped."""
        with torch.no_grad():
            w = self.arch_weights(deterministic=True)
        pick = {c.key: c.candidates[int(torch.argmax(w[c.key]))] if c.searched else c.candidates[0]
                for c in self.choices}
        layers = tuple(LayerGene(pick[f"layer{l}.aggregator"], pick[f"layer{l}.transform"], pick[f"layer{l}.skip"])
                       for l in range(int(pick["depth"])))
        features = None
        if self.fusion is not None:
            features = FeatureGene(pick["features.source"], pick["features.transform"], pick["features.fusion"],
                                   pick["features.at"])
        return Genotype(layers, pick["combine"], int(pick["width"]), features=features)

    @torch.no_grad()
    def set_genotype(self, genotype, strength: float = ONE_HOT) -> None:
        """Set α one-hot at ``genotype`` (chosen ``+strength``, others ``-strength``), so that the
        supernet computes exactly that architecture. Layers beyond its depth keep their first candidate."""
        self.space.check(genotype)
        pick: dict[str, object] = {"combine": genotype.combine, "depth": genotype.depth, "width": genotype.width}
        for l in range(self.space.max_depth):
            layer = genotype.layers[l] if l < genotype.depth else None
            for kind in ("aggregator", "transform", "skip"):
                pick[f"layer{l}.{kind}"] = getattr(layer, kind) if layer else self.space.candidates(kind)[0]
        if self.fusion is not None:  # a genotype without features is source=id
            gene = genotype.features if genotype.features is not None else _id_gene(self.fusion.space)
            pick.update({f"features.{k}": v for k, v in gene.to_dict().items()})
        for c in self.choices:
            if not c.searched:
                continue
            if pick[c.key] not in c.candidates:
                raise SpaceError(f"{c.key}: {pick[c.key]!r} is not among {list(c.candidates)}")
            a = self.alpha[self._row[c.key]]
            a.fill_(-strength)
            a[c.candidates.index(pick[c.key])] = strength

    def extra_repr(self) -> str:
        return (f"users={self.n_users}, items={self.n_items}, max_width={self.dim}, "
                f"choices={len(self.choice_keys)} searched, relaxation={getattr(self.relaxation, 'name', '?')}, "
                f"scale_norm={self.scale_norm!r}")


def _feature_fusion(feature_space, net: SuperNet, item_features, user_features, registry):
    """The supernet's :class:`~darts_gnn.space.fusion.FeatureFusion`, or ``None`` without item features."""
    if item_features is None:
        if user_features is not None or feature_space is not None:
            raise ValueError("SuperNet: user_features / feature_space need item_features as well")
        return None
    fspace = feature_space if feature_space is not None else FeatureSpace()
    return FeatureFusion(fspace, net.n_users, net.n_items, net.dim, item_features, user_features, registry)


def _id_gene(fspace):
    return FeatureGene("id", fspace.transforms[0], fspace.fusions[0], fspace.at[0])
