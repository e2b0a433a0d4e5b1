"""Build a hand-designed recommender from its :class:`~darts_gnn.config.ModelConfig`."""
from __future__ import annotations

from typing import Callable

from .config import ModelConfig
from .nn import MF, NGCF, LightGCN, Recommender

__all__ = ["build_model", "register_model", "MODELS"]

Builder = Callable[[ModelConfig, object, object], Recommender]

#: name -> ``builder(cfg, dataset, graph)``; extend with :func:`register_model`.
MODELS: dict[str, Builder] = {
    "mf": lambda cfg, ds, graph: MF(ds.n_users, ds.n_items, dim=cfg.dim),
    "lightgcn": lambda cfg, ds, graph: LightGCN(graph, dim=cfg.dim, n_layers=cfg.n_layers),
    "ngcf": lambda cfg, ds, graph: NGCF(graph, dim=cfg.dim, n_layers=cfg.n_layers, dropout=cfg.dropout),
}

_NEEDS_GRAPH = {"lightgcn", "ngcf"}


def register_model(name: str, builder: Builder, needs_graph: bool = True) -> None:
    """Add a model under ``name``; ``builder(cfg, dataset, graph)`` returns a :class:`Recommender`."""
    if name in MODELS:
        raise ValueError(f"model {name!r} is already registered")
    MODELS[name] = builder
    if needs_graph:
        _NEEDS_GRAPH.add(name)


def build_model(cfg: ModelConfig, dataset, graph=None) -> Recommender:
    """The model named ``cfg.name`` for ``dataset``; graph models propagate over ``graph``.

    ``graph`` should be ``Graph.from_dataset(dataset, "train")``: message passing must never see
    validation or test interactions. Initial weights come from torch's global generator, so call
    :func:`darts_gnn.seed.seed_everything` first for a repeatable model.
    """
    if cfg.name not in MODELS:
        raise ValueError(f"model.name: got {cfg.name!r}; allowed values: {', '.join(sorted(MODELS))}")
    if cfg.name in _NEEDS_GRAPH:
        if graph is None:
            raise ValueError(f"model {cfg.name!r} needs a graph: pass Graph.from_dataset(dataset, 'train')")
        if (graph.n_users, graph.n_items) != (dataset.n_users, dataset.n_items):
            raise ValueError(f"graph has {graph.n_users} users and {graph.n_items} items but the dataset "
                             f"has {dataset.n_users} and {dataset.n_items}; build it from this dataset")
    return MODELS[cfg.name](cfg, dataset, graph)
