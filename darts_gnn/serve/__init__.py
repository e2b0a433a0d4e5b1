r"""Serving: export a trained model to a self-contained bundle, recommend from it, explain, serve HTTP.

* :class:`Bundle`, :func:`build_bundle`, :func:`export_bundle`, :func:`load_bundle` -- the folder
  ``darts-gnn export`` writes: final embeddings ``[U, d]`` / ``[I, d]``, seen-items CSR, ids, manifest.
* :class:`Recommender` -- ``Recommender.load(MODEL_DIR).recommend(users, k, exclude_seen=True,
  filter=None, explain=False)``: the evaluator's masking and tie rule, original ids in and out.
* :class:`Explainer` -- exact per-neighbour decomposition of :math:`\langle e_u, e_i\rangle` for
  linear propagation, gradient x input otherwise.
* :class:`FaissIndex` -- optional approximate inner-product retrieval (``faiss-cpu``).
* :func:`create_app` (in :mod:`darts_gnn.serve.http`, needs ``fastapi``) -- the HTTP server.
"""
from .ann import FaissIndex, ann_recall
from .bundle import BUNDLE_FORMAT, Bundle, build_bundle, export_bundle, load_bundle
from .explain import Explainer, linear_form
from .export import bundle_from_run
from .recommender import Recommendation, Recommender, UnknownIdError

__all__ = [
    "Bundle", "BUNDLE_FORMAT", "build_bundle", "export_bundle", "load_bundle", "bundle_from_run",
    "Recommender", "Recommendation", "UnknownIdError", "Explainer", "linear_form", "FaissIndex",
    "ann_recall",
]
