r"""Genotype: a discrete architecture of the search space, as a small plain value.

A genotype lists, for each of its ``depth`` layers, the aggregator, transform and skip, plus the layer
combination and the embedding width. It is what a search returns (argmax of α per choice), what
``genotype.json`` stores (versioned) and what :meth:`Genotype.build_model` turns into a trainable
:class:`~darts_gnn.space.GenotypeNet`.

.. code-block:: python

    g = Genotype.lightgcn(n_layers=3, dim=64)
    g.summary()      # 'w64 | gcn>identity, gcn>identity, gcn>identity | combine=mean'
    g.save("genotype.json"); Genotype.load("genotype.json") == g
    model = g.build_model(dataset, graph)          # same scores as LightGCN from the same tables
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fusion import FeatureGene
from .registry import PER_LAYER, REGISTRY, Registry, SpaceError
from .recipe import Recipe
from ..store.files import atomic_write
from .discrete import GenotypeNet
from ..data.graph import Graph

__all__ = ["Genotype", "LayerGene", "GENOTYPE_VERSION"]

#: Version of the JSON layout written by :meth:`Genotype.to_dict`.
GENOTYPE_VERSION = 1


@dataclass(frozen=True)
class LayerGene:
    """One layer: ``aggregator``, ``transform`` and ``skip`` names (registry keys)."""
    aggregator: str = "gcn"
    transform: str = "identity"
    skip: str = "none"

    def to_dict(self) -> dict[str, str]:
        return {"aggregator": self.aggregator, "transform": self.transform, "skip": self.skip}

    def short(self) -> str:
        s = f"{self.aggregator}>{self.transform}"
        return s + ("+res" if self.skip == "residual" else "" if self.skip == "none" else f"+{self.skip}")


@dataclass(frozen=True)
class Genotype:
    """A discrete architecture: ``layers`` (one :class:`LayerGene` per used layer, so
    ``depth = len(layers)``), ``combine`` (layer combination) and ``width`` (embedding size).

    ``features``: the content-fusion choices (:class:`~darts_gnn.space.fusion.FeatureGene`), ``None``
    for ids only (what a genotype JSON without a ``features`` key means).
    ``norm``: L2-normalise the final embeddings, so that scores are cosines (output normalisation;
    SimpleX, Mao et al., CIKM 2021; pair it with a ``softmax`` recipe and a temperature).
    ``recipe``: how to train it (:class:`~darts_gnn.search.recipe.Recipe`; ``None``: the config's
    ``train`` section with BPR). The three are written to JSON only when set, so older files and
    readers keep working."""
    layers: tuple[LayerGene, ...] = ()
    combine: str = "mean"
    width: int = 64
    features: FeatureGene | None = None
    norm: bool = False
    recipe: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(
            l if isinstance(l, LayerGene) else LayerGene(**l) for l in self.layers))
        if isinstance(self.features, dict):
            object.__setattr__(self, "features", _feature_gene(self.features))
        if not isinstance(self.norm, bool):
            raise SpaceError(f"genotype norm: expected true or false, got {self.norm!r}")
        if self.recipe is not None:
            r = self.recipe if isinstance(self.recipe, Recipe) else Recipe.from_dict(self.recipe)
            object.__setattr__(self, "recipe", None if r.is_default else r)
        if not isinstance(self.width, int) or isinstance(self.width, bool) or self.width <= 0:
            raise SpaceError(f"genotype width: expected a positive integer, got {self.width!r}")

    @property
    def depth(self) -> int:
        return len(self.layers)

    # ------------------------------------------------------------------ named points of the space
    @classmethod
    def lightgcn(cls, n_layers: int = 3, dim: int = 64) -> "Genotype":
        """LightGCN as a genotype: ``gcn``, no transform, no skip, mean over layers 0..L."""
        return cls(tuple(LayerGene("gcn", "identity", "none") for _ in range(n_layers)), "mean", dim)

    @classmethod
    def mf(cls, dim: int = 64) -> "Genotype":
        """Matrix factorisation: depth 0 (the ego embeddings are the output)."""
        return cls((), "mean", dim)

    # ------------------------------------------------------------------ text
    def summary(self) -> str:
        """One line, e.g. ``w64 | gcn>identity, gcn>linear+res | combine=mean`` (``MF`` at depth 0)."""
        body = ", ".join(l.short() for l in self.layers) if self.layers else "no propagation (MF)"
        s = f"w{self.width} | {body} | combine={self.combine}"
        if self.features is not None:
            s += f" | features={self.features.short()}"
        if self.norm:
            s += " | norm"
        if self.recipe is not None:
            s += f" | {self.recipe.short()}"
        return s

    def with_(self, **changes) -> "Genotype":
        """A copy with ``changes`` (e.g. ``g.with_(recipe=Recipe(lr=5e-3), norm=True)``)."""
        import dataclasses
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        return self.summary()

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        d = {
            "version": GENOTYPE_VERSION,
            "depth": self.depth,
            "width": self.width,
            "combine": self.combine,
            "layers": [l.to_dict() for l in self.layers],
            **({"features": self.features.to_dict()} if self.features is not None else {}),
            "summary": self.summary(),
        }
        if self.norm:
            d["norm"] = True
        if self.recipe is not None:
            d["recipe"] = self.recipe.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], registry: Registry | None = REGISTRY) -> "Genotype":
        """Parse :meth:`to_dict` output; checks the version, the keys and (when ``registry`` is
        given) that every name is registered. ``summary`` is ignored (derived)."""
        if not isinstance(d, dict):
            raise SpaceError(f"genotype: expected a JSON object, got {type(d).__name__}")
        version = d.get("version")
        if version != GENOTYPE_VERSION:
            raise SpaceError(f"genotype: version {version!r} is not supported; this darts-gnn reads "
                             f"version {GENOTYPE_VERSION}")
        allowed = {"version", "depth", "width", "combine", "layers", "summary", "features", "norm", "recipe"}
        bad = sorted(set(d) - allowed)
        if bad:
            raise SpaceError(f"genotype: unknown key(s) {bad}; allowed keys: {sorted(allowed)}")
        missing = [k for k in ("width", "combine", "layers") if k not in d]
        if missing:  # never guess an architecture: a default width would silently build another model
            raise SpaceError(f"genotype: missing key(s) {missing}; a genotype lists version, width, combine, layers")
        layers = d.get("layers", [])
        if not isinstance(layers, list):
            raise SpaceError(f"genotype.layers: expected a list, got {layers!r}")
        genes = []
        for i, l in enumerate(layers):
            if not isinstance(l, dict) or set(l) != set(PER_LAYER):
                raise SpaceError(f"genotype.layers[{i}]: expected an object with keys {list(PER_LAYER)}, got {l!r}")
            genes.append(LayerGene(**l))
        if "depth" in d and d["depth"] != len(genes):
            raise SpaceError(f"genotype.depth is {d['depth']} but {len(genes)} layers are listed")
        feats = d.get("features")
        g = cls(tuple(genes), d.get("combine", "mean"), d.get("width", 64),
                features=None if feats is None else _feature_gene(feats), norm=d.get("norm", False),
                recipe=d.get("recipe"))
        if registry is not None:
            g.check(registry)
        return g

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str | dict, registry: Registry | None = REGISTRY) -> "Genotype":
        """From a JSON string (or an already parsed dict)."""
        if isinstance(text, dict):
            return cls.from_dict(text, registry)
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpaceError(f"genotype: not valid JSON ({e})") from None
        return cls.from_dict(d, registry)

    def save(self, path: str | Path) -> Path:
        """Write ``to_json()`` atomically (temporary file + rename)."""

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(self.to_json() + "\n")
        return atomic_write(path, write)

    @classmethod
    def load(cls, path: str | Path, registry: Registry | None = REGISTRY) -> "Genotype":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(2, "genotype file not found", str(path))
        try:
            return cls.from_json(path.read_text(), registry)
        except SpaceError as e:
            raise SpaceError(f"{path}: {e}") from None

    # ------------------------------------------------------------------ checks and models
    def check(self, registry: Registry = REGISTRY) -> None:
        """Raise :class:`SpaceError` if a name is not registered."""
        registry.get("combine", self.combine)
        for layer in self.layers:
            for kind in PER_LAYER:
                registry.get(kind, getattr(layer, kind))
        if self.features is not None and self.features.source != "id":
            registry.get("content_transform", self.features.transform)
            if self.features.source == "id+content":
                registry.get("fusion", self.features.fusion)

    def build_model(self, dataset=None, graph=None, dim: int | None = None, registry: Registry = REGISTRY,
                    item_features=None, user_features=None):
        """A fresh :class:`~darts_gnn.space.GenotypeNet` of this architecture over ``graph`` (the training
        graph; built from ``dataset``'s train split when omitted). ``dim`` overrides the width.
        ``item_features`` ``[I, d_f]`` / ``user_features`` ``[U, d_u]``: content features, required
        when :attr:`features` uses content. Initial weights come from torch's global generator (seed
        first for repeatability)."""
        if graph is None:
            if dataset is None:
                raise ValueError("Genotype.build_model: pass the training graph (or the dataset)")
            graph = Graph.from_dataset(dataset, "train")
        if dataset is not None and (graph.n_users, graph.n_items) != (dataset.n_users, dataset.n_items):
            raise ValueError(f"graph has {graph.n_users} users and {graph.n_items} items but the dataset has "
                             f"{dataset.n_users} and {dataset.n_items}; build it from this dataset")
        return GenotypeNet(self, graph, dim=dim, registry=registry, item_features=item_features,
                           user_features=user_features)


def _feature_gene(d) -> FeatureGene:
    keys = {"source", "transform", "fusion", "at"}
    if not isinstance(d, dict) or set(d) - keys:
        raise SpaceError(f"genotype.features: expected an object with keys {sorted(keys)}, got {d!r}")
    try:
        return FeatureGene(**d)
    except ValueError as e:
        raise SpaceError(f"genotype.{e}") from None
