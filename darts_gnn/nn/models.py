"""Build a hand-designed recommender from its :class:`~darts_gnn.config.ModelConfig`."""
from __future__ import annotations

from typing import Callable

from .. import registries
from ..config import ModelConfig
from . import MF, NGCF, LightGCN, Recommender

__all__ = ["build_model", "register_model", "MODELS"]

Builder = Callable[[ModelConfig, object, object], Recommender]

#: The model registry (:data:`darts_gnn.registries.MODELS`): ``name -> builder(cfg, dataset, graph)``.
#: ``model.name`` is checked against it when a config is loaded; extend it with :func:`register_model`.
MODELS = registries.MODELS

_NEEDS_GRAPH: set[str] = set()


def register_model(name: str, builder: Builder, needs_graph: bool = True, replace: bool = False) -> None:
    """Add a model under ``name``; ``builder(cfg, dataset, graph)`` returns a :class:`Recommender`.
    Afterwards ``model.name: <name>`` is valid in a config (YAML or ``--set``)."""
    MODELS.register(name, builder, replace=replace)
    _NEEDS_GRAPH.discard(name)
    if needs_graph:
        _NEEDS_GRAPH.add(name)


register_model("mf", lambda cfg, ds, graph: MF(ds.n_users, ds.n_items, dim=cfg.dim), needs_graph=False)
register_model("lightgcn", lambda cfg, ds, graph: LightGCN(graph, dim=cfg.dim, n_layers=cfg.n_layers))
register_model("ngcf", lambda cfg, ds, graph: NGCF(graph, dim=cfg.dim, n_layers=cfg.n_layers, dropout=cfg.dropout))


def build_model(cfg: ModelConfig, dataset, graph=None) -> Recommender:
    """The model named ``cfg.name`` for ``dataset``; graph models propagate over ``graph``.

    ``graph`` should be ``Graph.from_dataset(dataset, "train")``: message passing must never see
    validation or test interactions. Initial weights come from torch's global generator, so call
    :func:`darts_gnn.engine.seed.seed_everything` first for a repeatable model.
    """
    builder = MODELS.get(cfg.name)  # ValueError naming model.name and the registered models
    if cfg.name in _NEEDS_GRAPH:
        if graph is None:
            raise ValueError(f"model {cfg.name!r} needs a graph: pass Graph.from_dataset(dataset, 'train')")
        if (graph.n_users, graph.n_items) != (dataset.n_users, dataset.n_items):
            raise ValueError(f"graph has {graph.n_users} users and {graph.n_items} items but the dataset "
                             f"has {dataset.n_users} and {dataset.n_items}; build it from this dataset")
    return builder(cfg, dataset, graph)
