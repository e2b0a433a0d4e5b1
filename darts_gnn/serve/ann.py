r"""Approximate inner-product retrieval with faiss (the optional ``ann`` extra: ``pip install faiss-cpu``).

:class:`FaissIndex` holds the item table ``[I, d]`` in an HNSW graph under the inner-product metric
(no normalisation: the served score is :math:`\langle e_u, e_i\rangle`). ``search(queries [B, d], k)``
returns candidate item ids ``[B, k]`` (``-1`` where fewer were found); the
:class:`~darts_gnn.serve.Recommender` drops seen items from them and re-scores the rest exactly.
:func:`ann_recall` measures the overlap with exact ranking.
"""
from __future__ import annotations

import torch

from ..errors import UserError

__all__ = ["FaissIndex", "ann_recall"]


def _faiss():
    try:
        import faiss
    except ImportError:
        raise UserError("approximate retrieval needs faiss: pip install 'darts-gnn[ann]' (faiss-cpu)") from None
    return faiss


class FaissIndex:
    """HNSW inner-product index over ``items`` ``[I, d]`` (float32).

    Args:
        items: the item embeddings.
        m: HNSW neighbours per node (more: better recall, more memory).
        ef_search: candidates explored per query (more: better recall, slower); raised to ``k`` when smaller.
        ef_construction: candidates explored while building.
        threads: faiss OpenMP threads (0 leaves faiss's default).
    """

    def __init__(self, items: torch.Tensor, m: int = 32, ef_search: int = 128, ef_construction: int = 100,
                 threads: int = 0):
        faiss = _faiss()
        if m <= 0 or ef_search <= 0 or ef_construction <= 0:
            raise UserError(f"FaissIndex: m, ef_search and ef_construction must be positive, got "
                            f"{m}, {ef_search}, {ef_construction}")
        if threads > 0:
            faiss.omp_set_num_threads(int(threads))
        x = items.detach().float().contiguous().numpy()
        self.index = faiss.IndexHNSWFlat(x.shape[1], int(m), faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = int(ef_construction)
        self.index.add(x)
        self.ef_search = int(ef_search)

    def search(self, queries: torch.Tensor, k: int) -> torch.Tensor:
        """Candidate ids ``[B, k]`` (int64, ``-1`` padding), best first by approximate score."""
        faiss = _faiss()
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, int(k))
        _, ids = self.index.search(queries.detach().float().contiguous().numpy(), int(k), params=params)
        return torch.from_numpy(ids).to(torch.int64)


def ann_recall(exact: list, approx: list) -> float:
    """Mean over users of ``|approx ∩ exact| / |exact|`` for two lists of
    :class:`~darts_gnn.serve.Recommendation` (users with an empty exact list are skipped)."""
    vals = [len(set(a.items) & set(e.items)) / len(e.items) for e, a in zip(exact, approx) if e.items]
    return sum(vals) / len(vals) if vals else 1.0
