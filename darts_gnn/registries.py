"""Named registries: the single source of truth for what a config may name.

One :class:`NamedRegistry` per kind of component -- models (``model.name``), relaxations
(``search.relaxation``), derivations (``search.derive``) and search strategies (``search.strategy``).
The components register themselves where they are defined; :mod:`darts_gnn.config` checks a config's
names and each component's option section against these registries when the config is loaded. So a
model or strategy registered by user code is usable from YAML, and a name that nothing registered
is an error at load, never later.

This module sits at the bottom of the package (it imports nothing from ``darts_gnn``). A registry
knows the module that registers its built-in entries (``provider``) and imports it on first lookup,
so ``load_config`` sees the built-ins even when nothing else has been imported yet.

.. code-block:: python

    from darts_gnn.registries import STRATEGIES
    STRATEGIES.names()            # ('darts', 'random', 'evolution', 'rl')
    STRATEGIES.get("evolution")   # the registered class
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["NamedRegistry", "MODELS", "RELAXATIONS", "DERIVATIONS", "STRATEGIES", "TASKS", "VALUE_CHECKS"]


class NamedRegistry(Mapping):
    """``name -> object`` with an optional options type per entry (a dataclass for its config section).

    Args:
        kind: what the entries are (``"model"``, ``"strategy"``, ...), used in error messages.
        key: the config key that names an entry (e.g. ``"search.strategy"``), used in error messages.
        provider: module that registers the built-in entries; imported on the first lookup.
    """

    def __init__(self, kind: str, key: str, provider: str | None = None, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or kind + "s"
        self.key = key
        self.provider = provider
        self._entries: dict[str, Any] = {}
        self._options: dict[str, Any] = {}
        self._loading = False

    def _load(self) -> None:
        if self.provider is not None and not self._loading:
            self._loading = True          # the provider may look names up while it registers
            provider, self.provider = self.provider, None
            try:
                importlib.import_module(provider)
            except BaseException:
                self.provider = provider
                raise
            finally:
                self._loading = False

    def register(self, name: str, obj: Any = None, *, options: Any = None,
                 replace: bool = False) -> Any:
        """Register ``obj`` under ``name`` (returns ``obj``); without ``obj``, a class decorator.

        ``options``: the type of the entry's config section (a dataclass), or ``None``.
        ``replace=True`` overrides an existing entry; otherwise a taken name is an error.
        """
        if obj is None:
            def deco(o: Any) -> Any:
                return self.register(name, o, options=options, replace=replace)
            return deco
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"{self.kind} name must be a non-empty string without spaces, got {name!r}")
        if name in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True to override it")
        self._entries[name] = obj
        self._options[name] = options
        return obj

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests and notebooks that register temporary entries)."""
        self._entries.pop(name, None)
        self._options.pop(name, None)

    def get(self, name: str, default: Any = ...) -> Any:  # type: ignore[override]
        """The entry ``name``; an unknown name raises ``ValueError`` listing the registered ones."""
        self._load()
        if name in self._entries:
            return self._entries[name]
        if default is not ...:
            return default
        raise ValueError(f"{self.key}: got {name!r}; allowed values: {', '.join(self.names())} "
                         f"(the registered {self.plural})")

    def options(self, name: str) -> Any:
        """The options type of ``name`` (``None`` when it takes none)."""
        self.get(name)
        return self._options[name]

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        self._load()
        return tuple(self._entries)

    def __getitem__(self, name: str) -> Any:
        self._load()
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"NamedRegistry({self.kind}: {', '.join(self._entries) or 'not loaded'})"


#: ``name -> builder(cfg: ModelConfig, dataset, graph)`` (see :func:`darts_gnn.nn.models.register_model`).
MODELS = NamedRegistry("model", "model.name", provider="darts_gnn.nn.models")
#: ``name -> Relaxation class`` (see :mod:`darts_gnn.search.relax`).
RELAXATIONS = NamedRegistry("relaxation", "search.relaxation", provider="darts_gnn.search.relax")
#: ``name -> derive(supernet, evaluator, log) -> (genotype, trace)`` (see :mod:`darts_gnn.search.derive`).
DERIVATIONS = NamedRegistry("derivation", "search.derive", provider="darts_gnn.search.strategies")
#: ``name -> SearchStrategy class`` (see :mod:`darts_gnn.search.strategy`).
STRATEGIES = NamedRegistry("strategy", "search.strategy", provider="darts_gnn.search.strategies",
                           plural="strategies")
#: ``name -> Task class`` with its options (a ``TaskConfig`` subclass; see :mod:`darts_gnn.tasks`).
TASKS = NamedRegistry("task", "task.name", provider="darts_gnn.tasks")
#: Parsers of config values whose type lives above the config layer, keyed by the dotted key (e.g.
#: ``search.select_recipes`` -> the recipe-entry parser of :mod:`darts_gnn.space.recipe`); the config
#: calls them at load and turns a ``ValueError`` into a ``ConfigError`` naming the key.
VALUE_CHECKS = NamedRegistry("value check", "config key", provider="darts_gnn.space.recipe")
