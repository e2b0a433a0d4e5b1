r"""Content-feature fusion: how item (and user) content vectors join the collaborative id embeddings.

For one side (items, or users when they have features), with id embeddings :math:`E` ``[n, d]`` and
content features :math:`X` ``[n, d_f]`` (e.g. a language model's text embeddings):

.. math::
    C = T(X) \in \mathbb R^{n \times d}, \qquad
    S(E, C) = \begin{cases} E & \text{source = id} \\ C & \text{source = content} \\
                            F(E, C) & \text{source = id+content} \end{cases}

Content transforms :math:`T` (registry kind ``content_transform``, ``factory(d_f, d)``):

* ``whiten``: precomputed PCA whitening :math:`(X - \mu) V_k \Lambda_k^{-1/2}` to ``k = min(d, d_f)``
  components (language-model embeddings are anisotropic), times a learned per-channel scale (0.1);
* ``linear``: :math:`W X + b`;  ``mlp``: :math:`W_2\,\mathrm{GELU}(W_1 X + b_1) + b_2`.

Fusions :math:`F` (registry kind ``fusion``, ``factory(d)``, ``forward(e_id, e_c)``):

* ``sum``: :math:`E + C`;  ``concat``: :math:`W [E; C] + b`;
* ``gate``: :math:`g \odot E + (1 - g) \odot C`, :math:`g = \sigma(W [E; C] + b)`.

Where (``at``): ``input`` fuses the ego embeddings before propagation (``h0 = S(E, C)``, so the
GNN propagates content); ``late`` propagates the id embeddings and fuses afterwards
(``out = S(GNN(E), C)``). Users without features always keep their id embeddings.
:class:`FeatureFusion` is the mixture over a :class:`FeatureSpace` (a one-candidate space is the discrete model). LightGCN and MF are ``source = id``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn
from .registry import Choice, REGISTRY, SpaceError

__all__ = ["SOURCES", "PLACES", "FeatureGene", "FeatureSpace", "Whiten", "LinearProjection", "MLPProjection",
           "SumFusion", "ConcatFusion", "GateFusion", "ContentSide", "FeatureFusion",
           "register_defaults"]

#: Where the content comes in (fixed enumerations, like depth): feature sources and fusion places.
SOURCES: tuple[str, ...] = ("id", "content", "id+content")
PLACES: tuple[str, ...] = ("input", "late")


class Whiten(nn.Module):
    r"""PCA whitening fitted once on the features (buffers ``mean`` ``[d_f]``, ``proj`` ``[d_f, d]``),
    then a learned per-channel ``scale`` ``[d]`` (init 0.1). ``[n, d_f] -> [n, d]``; channels beyond
    ``min(d, d_f)`` are 0. Call :meth:`fit` with the feature matrix before use."""

    def __init__(self, d_in: int, dim: int, eps: float = 1e-5):
        super().__init__()
        self.d_in, self.dim, self.eps = int(d_in), int(dim), float(eps)
        self.register_buffer("mean", torch.zeros(self.d_in))
        self.register_buffer("proj", torch.zeros(self.d_in, self.dim))
        self.scale = nn.Parameter(torch.full((self.dim,), 0.1))

    @torch.no_grad()
    def fit(self, x: Tensor) -> "Whiten":
        x = x.double()
        mu = x.mean(0)
        cov = (x - mu).T @ (x - mu) / max(1, x.shape[0] - 1)
        evals, evecs = torch.linalg.eigh(cov)                   # ascending
        k = min(self.dim, self.d_in)
        evals, evecs = evals.flip(0)[:k], evecs.flip(1)[:, :k]
        # eigenvector signs are arbitrary: make the largest entry of each positive (deterministic)
        sign = torch.sign(evecs.gather(0, evecs.abs().argmax(0, keepdim=True)))
        proj = torch.zeros(self.d_in, self.dim, dtype=torch.float64)
        proj[:, :k] = evecs * sign / torch.sqrt(evals.clamp_min(0) + self.eps)
        self.mean.copy_(mu.float())
        self.proj.copy_(proj.float())
        return self

    def reset_parameters(self) -> None:
        nn.init.constant_(self.scale, 0.1)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) @ self.proj * self.scale


class LinearProjection(nn.Linear):
    r""":math:`W x + b`, ``[n, d_f] -> [n, d]``."""

    def __init__(self, d_in: int, dim: int):
        super().__init__(int(d_in), int(dim))


class MLPProjection(nn.Module):
    r""":math:`W_2\,\mathrm{GELU}(W_1 x + b_1) + b_2`, hidden width ``2 d``; ``[n, d_f] -> [n, d]``."""

    def __init__(self, d_in: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(int(d_in), 2 * int(dim)), nn.GELU(), nn.Linear(2 * int(dim), int(dim)))

    def reset_parameters(self) -> None:
        for m in self.net:
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class SumFusion(nn.Module):
    r""":math:`e_{id} + e_c`."""

    def __init__(self, dim: int):
        super().__init__()

    def forward(self, e_id: Tensor, e_c: Tensor) -> Tensor:
        return e_id + e_c


class ConcatFusion(nn.Module):
    r""":math:`W [e_{id}; e_c] + b`, ``W`` ``[d, 2d]``, initialised to ``[I, I] / 2`` (the mean) and ``b = 0``."""

    def __init__(self, dim: int):
        super().__init__()
        self.lin = nn.Linear(2 * int(dim), int(dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        d = self.lin.out_features
        with torch.no_grad():
            eye = torch.eye(d) / 2
            self.lin.weight.copy_(torch.cat([eye, eye], 1))
            self.lin.bias.zero_()

    def forward(self, e_id: Tensor, e_c: Tensor) -> Tensor:
        return self.lin(torch.cat([e_id, e_c], -1))


class GateFusion(nn.Module):
    r""":math:`g \odot e_{id} + (1 - g) \odot e_c` with :math:`g = \sigma(W [e_{id}; e_c] + b)`, ``W`` ``[d, 2d]``."""

    def __init__(self, dim: int):
        super().__init__()
        self.lin = nn.Linear(2 * int(dim), int(dim))

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, e_id: Tensor, e_c: Tensor) -> Tensor:
        g = torch.sigmoid(self.lin(torch.cat([e_id, e_c], -1)))
        return g * e_id + (1 - g) * e_c


def register_defaults(registry) -> None:
    """Register the built-in ``content_transform`` and ``fusion`` candidates in ``registry``."""
    registry.register("content_transform", "whiten", Whiten,
                      description="precomputed PCA whitening, learned per-channel scale")
    registry.register("content_transform", "linear", LinearProjection, description="W x + b")
    registry.register("content_transform", "mlp", MLPProjection, description="two-layer GELU MLP")
    registry.register("fusion", "sum", SumFusion, description="e_id + e_c")
    registry.register("fusion", "concat", ConcatFusion, description="W [e_id; e_c] + b")
    registry.register("fusion", "gate", GateFusion, description="g * e_id + (1 - g) * e_c, g = sigmoid(W [e_id; e_c] + b)")


@dataclass(frozen=True)
class FeatureGene:
    """The fusion choices of a genotype: ``source`` (id | content | id+content), ``transform``
    (content transform name), ``fusion`` (fusion name) and ``at`` (input | late)."""
    source: str = "id"
    transform: str = "linear"
    fusion: str = "sum"
    at: str = "input"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"features.source: got {self.source!r}; allowed: {', '.join(SOURCES)}")
        if self.at not in PLACES:
            raise ValueError(f"features.at: got {self.at!r}; allowed: {', '.join(PLACES)}")

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "transform": self.transform, "fusion": self.fusion, "at": self.at}

    def short(self) -> str:
        if self.source == "id":
            return "id"
        parts = [self.source, self.transform] + ([self.fusion] if self.source == "id+content" else [])
        return "/".join(parts) + f"@{self.at}"


@dataclass
class FeatureSpace:
    """The fusion choices searched (each list's names; one name = fixed). Keys of its choices:
    ``features.source``, ``features.transform``, ``features.fusion``, ``features.at``."""
    sources: list[str] = field(default_factory=lambda: list(SOURCES))
    transforms: list[str] = field(default_factory=lambda: ["whiten", "linear", "mlp"])
    fusions: list[str] = field(default_factory=lambda: ["sum", "concat", "gate"])
    at: list[str] = field(default_factory=lambda: list(PLACES))

    def check(self, registry) -> None:
        for attr, allowed in (("sources", SOURCES), ("at", PLACES),
                              ("transforms", registry.names("content_transform")),
                              ("fusions", registry.names("fusion"))):
            names = list(getattr(self, attr))
            if not names or len(set(names)) != len(names) or any(n not in allowed for n in names):
                raise SpaceError(f"features.space.{attr}: expected distinct names among {', '.join(allowed)}, "
                                 f"got {names!r}")

    @classmethod
    def from_dict(cls, d: dict | None) -> "FeatureSpace":
        d = dict(d or {})
        bad = sorted(set(d) - {"sources", "transforms", "fusions", "at"})
        if bad:
            raise SpaceError(f"features.space: unknown key(s) {bad}; allowed: sources, transforms, fusions, at")
        return cls(**{k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in d.items()})

    def choices(self) -> list:
        return [Choice("features.source", "source", tuple(self.sources)),
                Choice("features.transform", "content_transform", tuple(self.transforms)),
                Choice("features.fusion", "fusion", tuple(self.fusions)),
                Choice("features.at", "at", tuple(self.at))]


class ContentSide(nn.Module):
    r"""One side's content: buffer ``features`` ``[n, d_f]`` (not saved in ``state_dict``), the
    transforms ``[n, d_f] -> [n, d]`` and fusions of the given names (several in the supernet)."""

    def __init__(self, features: Tensor, dim: int, transforms: list[str], fusions: list[str], registry):
        super().__init__()
        features = torch.as_tensor(features, dtype=torch.float32)
        if features.dim() != 2 or not torch.isfinite(features).all():
            raise ValueError(f"content features: expected a finite float matrix [n, d_f], got shape "
                             f"{tuple(features.shape)}")
        self.register_buffer("features", features, persistent=False)
        self.transforms = nn.ModuleList()
        for name in transforms:
            m = registry.get("content_transform", name).factory(features.shape[1], dim)
            if hasattr(m, "fit"):
                m.fit(features)
            self.transforms.append(m)
        self.fusions = nn.ModuleList(registry.get("fusion", name).factory(dim) for name in fusions)

    def reset_parameters(self) -> None:
        for m in list(self.transforms) + list(self.fusions):
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def content(self, w: Tensor | None) -> Tensor:
        """:math:`C = \\sum_t w_t T_t(X)` ``[n, d]`` (the single transform when ``w`` is None)."""
        return _mix([t(self.features) for t in self.transforms], w)

    def fuse(self, e_id: Tensor, c: Tensor, w: Tensor | None) -> Tensor:
        return _mix([f(e_id, c) for f in self.fusions], w)


def _mix(outs: list[Tensor], w: Tensor | None) -> Tensor:
    if w is None:
        return outs[0]
    return sum(wk * o for wk, o in zip(w, outs))


def _check_rows(x: Tensor | None, n: int, what: str) -> None:
    if x is not None and int(x.shape[0]) != n:
        raise ValueError(f"{what}: {int(x.shape[0])} feature rows but the graph has {n} {what.split('_')[0]}s; "
                         f"align them with darts_gnn.features.align")


class FeatureFusion(nn.Module):
    r"""Content fusion of a :class:`FeatureSpace` around a propagation ``[N, d] -> [N, d]``.

    With choice weights ``w`` (``None`` for a fixed choice) and :math:`S_w = \sum_s w^{src}_s S_s`
    (per side, see the module docstring):

    .. math::
        \mathrm{out} = w^{at}_{input}\, \mathrm{prop}(S_w(E, C)) + w^{at}_{late}\, S_w(\mathrm{prop}(E), C)

    ``x`` ``[U + I, d]`` are the ego embeddings (users first); the result has the same shape. A space
    whose lists hold one name each is a discrete architecture (:meth:`from_gene`).

    Args:
        space: the :class:`FeatureSpace`. n_users, n_items: node counts. dim: embedding width ``d``.
        item_features: ``[I, d_f]`` (required). user_features: ``[U, d_u]`` or ``None`` (users keep
            their id embeddings). registry: where transform and fusion names are looked up.
    """

    def __init__(self, space: FeatureSpace, n_users: int, n_items: int, dim: int, item_features: Tensor,
                 user_features: Tensor | None = None, registry=None):
        super().__init__()
        registry = registry or REGISTRY
        space.check(registry)
        if item_features is None:
            raise ValueError("FeatureFusion: item_features [n_items, d_f] are required")
        _check_rows(item_features, n_items, "item_features")
        _check_rows(user_features, n_users, "user_features")
        self.space, self.n_users, self.n_items = space, int(n_users), int(n_items)
        content = any(s != "id" for s in space.sources)
        transforms = list(space.transforms) if content else []
        fusions = list(space.fusions) if "id+content" in space.sources else []
        self.item = ContentSide(item_features, dim, transforms, fusions, registry)
        self.user = None if user_features is None else ContentSide(user_features, dim, transforms, fusions, registry)

    @classmethod
    def from_gene(cls, gene: FeatureGene, n_users: int, n_items: int, dim: int, item_features: Tensor,
                  user_features: Tensor | None = None, registry=None) -> "FeatureFusion":
        space = FeatureSpace([gene.source], [gene.transform], [gene.fusion], [gene.at])
        return cls(space, n_users, n_items, dim, item_features, user_features, registry)

    def choices(self) -> list:
        return self.space.choices()

    def reset_parameters(self) -> None:
        for side in (self.item, self.user):
            if side is not None:
                side.reset_parameters()

    def _side(self, side: ContentSide | None, e: Tensor, w: dict) -> Tensor:
        if side is None:
            return e
        outs = []
        c = side.content(w.get("features.transform")) if side.transforms else None
        for s in self.space.sources:
            outs.append(e if s == "id" else c if s == "content" else side.fuse(e, c, w.get("features.fusion")))
        return _mix(outs, w.get("features.source"))

    def source(self, h: Tensor, w: dict | None = None) -> Tensor:
        """:math:`S_w` on ``[U + I, d]`` embeddings."""
        w = w or {}
        u, i = h.split([self.n_users, self.n_items])
        return torch.cat([self._side(self.user, u, w), self._side(self.item, i, w)], 0)

    def forward(self, x: Tensor, propagate: Callable[[Tensor], Tensor], w: dict | None = None) -> Tensor:
        w = w or {}
        outs = [propagate(self.source(x, w)) if at == "input" else self.source(propagate(x), w)
                for at in self.space.at]
        return _mix(outs, w.get("features.at"))
