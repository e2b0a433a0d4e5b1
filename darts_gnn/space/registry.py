r"""The search space: a registry of candidate operations and the choices a search makes over them.

A GNN recommender in this space propagates the ego embeddings ``h0 = [E_U; E_I]`` through ``L``
layers and combines the layer outputs:

.. code-block:: text

    h(l+1) = skip_l( h(l), transform_l( aggregator_l(graph, h(l)) ) )      l = 0 .. depth-1
    out    = combine( h(0), ..., h(depth) )                                 score(u, i) = <out_u, out_i>

The choices (each one row of architecture logits α in the supernet):

* ``layer<l>.aggregator`` per layer: ``gcn``, ``mean``, ``sum``, ``max``, ``min``, ``attn`` (default
  space); registered too: ``gcn_a25``, ``gcn_a75`` (adjacency exponent), ``gcn_self`` (self-loops),
  ``gcn_drop`` (edge dropout), see :mod:`darts_gnn.nn.propagation`
* ``layer<l>.transform`` per layer: ``identity``, ``linear``, ``linear_act``
* ``layer<l>.skip`` per layer: ``none``, ``residual``
* ``combine``: ``last``, ``mean``, ``sum``, ``learned``
* ``depth``: ``0 .. L`` (how many layers are used; 0 is matrix factorisation)
* ``width``: the embedding width, ``16, 32, 64, 128`` (masked channels of one table; by default a
  search fixes it to ``model.dim``, ``search.width_search``)

Training recipes (objective, negatives, lr, L2; :mod:`darts_gnn.search.recipe`) and output
normalisation (``Genotype.norm``) are searched by the selection stage, not through α.

LightGCN is ``gcn / identity / none`` in every layer, ``combine=mean``, ``depth=3``, ``width=64``;
MF is ``depth=0``. A choice with a single candidate is fixed and gets no α.

Extend it by registering a candidate (see ``docs/search.md``)::

    from darts_gnn.space.registry import register

    @register("aggregator", "sum_tanh")
    class SumTanh(torch.nn.Module):
        def __init__(self, dim):
            super().__init__()
        def forward(self, graph, x):
            return torch.tanh(darts_gnn.ops.mixed_aggregate(graph.rowptr, graph.col, x,
                                                           x.new_ones(1), ("sum",)))

    space = SearchSpace(aggregators=["gcn", "mean", "sum_tanh"])
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from torch import nn

from ..errors import ConfigError

__all__ = [
    "KINDS", "Candidate", "Registry", "REGISTRY", "register", "Choice", "SearchSpace", "SpaceError",
    "PER_LAYER", "GLOBAL",
]

#: Kinds of candidate operations held by the registry.
KINDS: tuple[str, ...] = ("aggregator", "transform", "skip", "combine", "content_transform", "fusion")
#: Choices made once per layer, and once per network.
PER_LAYER: tuple[str, ...] = ("aggregator", "transform", "skip")
GLOBAL: tuple[str, ...] = ("combine", "depth", "width")


class SpaceError(ConfigError):
    """A bad search space or genotype: names the field, what was received and what is allowed."""


@dataclass(frozen=True)
class Candidate:
    """One registered operation: ``factory`` builds the module (see :mod:`darts_gnn.space.candidates`
    for each kind's call convention). ``native`` names the :func:`darts_gnn.ops.mixed_aggregate` op an
    aggregator computes (the supernet fuses those into one call), or is ``None``."""
    kind: str
    name: str
    factory: Callable[..., nn.Module]
    native: str | None = None
    description: str = ""

    def build(self, dim: int, n_inputs: int | None = None) -> nn.Module:
        if self.kind == "combine":
            return self.factory(dim, n_inputs)
        return self.factory(dim)


class Registry:
    """Candidate operations by kind and name. The module-level :data:`REGISTRY` is the default."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Candidate]] = {k: {} for k in KINDS}

    def register(self, kind: str, name: str | None = None, factory: Callable[..., nn.Module] | None = None, *,
                 native: str | None = None, description: str | None = None, replace: bool = False):
        """Register ``factory`` as candidate ``name`` of ``kind``; usable as a decorator.

        ``register("transform", "tanh", lambda dim: torch.nn.Tanh())`` or ``@register("transform",
        "tanh")`` above a class or function. ``name`` defaults to the factory's ``__name__``
        lower-cased. Registering an existing name raises unless ``replace=True``.
        """
        if kind not in KINDS:
            raise SpaceError(f"register: kind {kind!r} is unknown; allowed kinds: {', '.join(KINDS)}")

        def add(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
            key = name if name is not None else getattr(f, "__name__", "").lower()
            if not key or not isinstance(key, str):
                raise SpaceError(f"register: give a name for the {kind} candidate {f!r}")
            if key in self._items[kind] and not replace:
                raise SpaceError(f"register: {kind} {key!r} is already registered; pass replace=True to "
                                 f"override it or pick another name")
            doc = description if description is not None else (f.__doc__ or "").strip().split("\n")[0]
            self._items[kind][key] = Candidate(kind, key, f, native, doc)
            return f

        return add if factory is None else add(factory)

    def unregister(self, kind: str, name: str) -> None:
        self.get(kind, name)
        del self._items[kind][name]

    def get(self, kind: str, name: str) -> Candidate:
        if kind not in KINDS:
            raise SpaceError(f"kind {kind!r} is unknown; allowed kinds: {', '.join(KINDS)}")
        try:
            return self._items[kind][name]
        except KeyError:
            raise SpaceError(f"{kind} {name!r} is not registered; registered {kind}s: "
                             f"{', '.join(self._items[kind])} (add one with darts_gnn.space.registry.register)") from None

    def names(self, kind: str) -> list[str]:
        if kind not in KINDS:
            raise SpaceError(f"kind {kind!r} is unknown; allowed kinds: {', '.join(KINDS)}")
        return list(self._items[kind])

    def __contains__(self, item: tuple[str, str]) -> bool:
        kind, name = item
        return name in self._items.get(kind, {})

    def __repr__(self) -> str:
        return "Registry(" + "; ".join(f"{k}: {', '.join(v)}" for k, v in self._items.items()) + ")"


REGISTRY = Registry()
register = REGISTRY.register



@dataclass(frozen=True)
class Choice:
    """One decision of the search: ``key`` (e.g. ``layer0.aggregator``), its ``kind``, the ``layer``
    (``None`` for global choices) and the ``candidates`` (names, or ints for depth and width)."""
    key: str
    kind: str
    candidates: tuple
    layer: int | None = None

    @property
    def searched(self) -> bool:
        return len(self.candidates) > 1


def _default(kind: str) -> list[str]:
    return {
        "aggregator": ["gcn", "mean", "sum", "max", "min", "attn"],
        "transform": ["identity", "linear", "linear_act"],
        "skip": ["none", "residual"],
        "combine": ["last", "mean", "sum", "learned"],
    }[kind]


@dataclass
class SearchSpace:
    """Which candidates each choice may take. ``depths=None`` means ``0..n_layers``.

    Build from Python (``SearchSpace(n_layers=2, aggregators=["gcn", "max"])``), a mapping
    (:meth:`from_dict`) or YAML (:meth:`load`); names are checked against ``registry``.
    """
    n_layers: int = 3
    aggregators: list[str] = field(default_factory=lambda: _default("aggregator"))
    transforms: list[str] = field(default_factory=lambda: _default("transform"))
    skips: list[str] = field(default_factory=lambda: _default("skip"))
    combines: list[str] = field(default_factory=lambda: _default("combine"))
    depths: list[int] | None = None
    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    registry: Registry = field(default=REGISTRY, repr=False, compare=False)

    _LISTS = {"aggregators": "aggregator", "transforms": "transform", "skips": "skip", "combines": "combine"}

    def __post_init__(self) -> None:
        if not isinstance(self.n_layers, int) or self.n_layers < 0:
            raise SpaceError(f"space.n_layers: expected a non-negative integer, got {self.n_layers!r}")
        for attr, kind in self._LISTS.items():
            names = list(getattr(self, attr))
            if not names:
                raise SpaceError(f"space.{attr}: give at least one {kind}; registered: "
                                 f"{', '.join(self.registry.names(kind))}")
            if len(set(names)) != len(names):
                raise SpaceError(f"space.{attr}: duplicate names in {names}")
            for n in names:
                if (kind, n) not in self.registry:
                    raise SpaceError(f"space.{attr}: {n!r} is not a registered {kind}; registered: "
                                     f"{', '.join(self.registry.names(kind))}")
            setattr(self, attr, names)
        depths = list(range(self.n_layers + 1)) if self.depths is None else list(self.depths)
        if not depths or any(not isinstance(d, int) or d < 0 or d > self.n_layers for d in depths) \
                or len(set(depths)) != len(depths):
            raise SpaceError(f"space.depths: expected distinct integers in 0..n_layers={self.n_layers}, "
                             f"got {self.depths!r}")
        self.depths = sorted(depths)
        widths = list(self.widths)
        if not widths or any(not isinstance(w, int) or w <= 0 for w in widths) or len(set(widths)) != len(widths):
            raise SpaceError(f"space.widths: expected distinct positive integers, got {self.widths!r}")
        self.widths = sorted(widths)

    # ------------------------------------------------------------------ views
    @property
    def max_width(self) -> int:
        return max(self.widths)

    @property
    def max_depth(self) -> int:
        return max(self.depths)

    def choices(self) -> list[Choice]:
        """Every choice, fixed ones included, in a stable order: per layer, then global."""
        out = []
        for layer in range(self.max_depth):
            for kind in PER_LAYER:
                out.append(Choice(f"layer{layer}.{kind}", kind, tuple(self.candidates(kind)), layer))
        out.append(Choice("combine", "combine", tuple(self.combines)))
        out.append(Choice("depth", "depth", tuple(self.depths)))
        out.append(Choice("width", "width", tuple(self.widths)))
        return out

    def searched_choices(self) -> list[Choice]:
        """The choices with more than one candidate (those that get an α row)."""
        return [c for c in self.choices() if c.searched]

    def candidates(self, kind: str) -> list:
        return {"aggregator": self.aggregators, "transform": self.transforms, "skip": self.skips,
                "combine": self.combines, "depth": self.depths, "width": self.widths}[kind]

    def size(self) -> int:
        """Number of distinct architectures (layers beyond the depth do not count)."""
        per_layer = len(self.aggregators) * len(self.transforms) * len(self.skips)
        return len(self.widths) * sum(len(self.combines) * per_layer ** d for d in self.depths)

    def contains(self, genotype) -> bool:
        """Whether ``genotype`` is a point of this space."""
        try:
            self.check(genotype)
            return True
        except SpaceError:
            return False

    def check(self, genotype) -> None:
        """Raise :class:`SpaceError` naming the first part of ``genotype`` outside the space."""
        if genotype.depth not in self.depths:
            raise SpaceError(f"genotype depth {genotype.depth} is not in space.depths {self.depths}")
        if genotype.width not in self.widths:
            raise SpaceError(f"genotype width {genotype.width} is not in space.widths {self.widths}")
        if genotype.combine not in self.combines:
            raise SpaceError(f"genotype combine {genotype.combine!r} is not in space.combines {self.combines}")
        for i, layer in enumerate(genotype.layers):
            for kind in PER_LAYER:
                v = getattr(layer, kind)
                if v not in self.candidates(kind):
                    raise SpaceError(f"genotype layer{i}.{kind} {v!r} is not in the space's "
                                     f"{kind}s {self.candidates(kind)}")

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "registry"}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, registry: Registry = REGISTRY, **defaults) -> "SearchSpace":
        """Build from a mapping of field names; ``defaults`` fill the keys it lacks."""
        d = dict(d or {})
        names = [f.name for f in dataclasses.fields(cls) if f.name != "registry"]
        bad = [k for k in d if k not in names]
        if bad:
            raise SpaceError(f"space: unknown key(s) {', '.join(map(repr, bad))}; allowed keys: {', '.join(names)}")
        return cls(**{**defaults, **d}, registry=registry)

    @classmethod
    def load(cls, path: str | Path, registry: Registry = REGISTRY, **defaults) -> "SearchSpace":
        """Read a YAML file holding the fields (optionally under a top-level ``space:`` key)."""
        p = Path(path)
        if not p.is_file():
            raise SpaceError(f"{p}: search space file not found")
        try:
            d = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise SpaceError(f"{p}: not valid YAML ({e})") from None
        if isinstance(d, dict) and set(d) == {"space"}:
            d = d["space"]
        if not isinstance(d, dict):
            raise SpaceError(f"{p}: expected a mapping of search space fields")
        try:
            return cls.from_dict(d, registry, **defaults)
        except SpaceError as e:
            raise SpaceError(f"{p}: {e}") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_config(cls, search_cfg, registry: Registry = REGISTRY) -> "SearchSpace":
        """From a :class:`~darts_gnn.config.SearchConfig`: ``space`` (None, YAML path or mapping) with
        ``n_layers`` as the default layer count."""
        spec = getattr(search_cfg, "space", None)
        defaults = {"n_layers": int(search_cfg.n_layers)}
        if spec is None:
            return cls.from_dict({}, registry, **defaults)
        if isinstance(spec, dict):
            return cls.from_dict(spec, registry, **defaults)
        return cls.load(spec, registry, **defaults)

    @classmethod
    def for_run(cls, cfg, registry: Registry = REGISTRY) -> "SearchSpace":
        """The space a run searches, whatever the strategy: :meth:`from_config` of ``cfg.search`` with
        the width policy applied (``search.width_search: fixed``, the default: the single width
        ``model.dim`` instead of channel-masked widths; ``masked``: the space's widths)."""
        space = cls.from_config(cfg.search, registry)
        if getattr(cfg.search, "width_search", "masked") == "fixed" and space.widths != [int(cfg.model.dim)]:
            space = dataclasses.replace(space, widths=[int(cfg.model.dim)])
        return space

    def describe(self) -> str:
        """A few lines for logs: the candidates of each choice and the number of architectures."""
        return "\n".join([
            f"layers: {self.n_layers} (depths {self.depths})",
            f"aggregators: {', '.join(self.aggregators)}",
            f"transforms: {', '.join(self.transforms)}",
            f"skips: {', '.join(self.skips)}",
            f"combines: {', '.join(self.combines)}",
            f"widths: {', '.join(map(str, self.widths))}",
            f"architectures: {self.size():,}",
        ])
