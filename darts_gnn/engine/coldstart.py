r"""Cold-start items: hold out a set of items entirely and evaluate how well they are recommended.

:func:`cold_item_split` draws ``round(fraction * I)`` items (seeded, among items with at least one
interaction) and removes every interaction with them from train, valid and test; those
interactions form the cold test set. The warm :class:`~darts_gnn.data.Dataset` keeps all ``I``
item ids (so content features stay aligned) but a cold item never appears in training, validation
or the graph: a model can only place it through its content.

Protocol of :class:`ColdStartEvaluator` (what ``cold recall@K`` means here): for each user with at
least one cold interaction, rank **the cold items only** (all of them; nothing to mask, the user
never saw one in training), take the top K and compare with the user's cold items:

.. math::
    \mathrm{Recall@K}(u) = \frac{|\mathrm{top}_K(u) \cap T_u|}{|T_u|}, \qquad
    \mathrm{NDCG@K}(u) = \frac{\sum_{r < K,\, \mathrm{top}_K(u)_r \in T_u} 1/\log_2(r + 2)}
                              {\sum_{r < \min(|T_u|, K)} 1/\log_2(r + 2)}

averaged over those users. A model that cannot tell cold items apart (ids only: their embeddings
were never trained on a positive) scores about chance, :math:`K / |\mathrm{cold}|` recall.
Baselines: :func:`content_knn_scores` (cosine between a user's training items and each candidate)
and :func:`popularity_scores` (training counts: all zero for cold items, so its order is a seeded
random one: chance, by design; breaking the ties by item id would not be, since MovieLens ids follow
the catalogue's history and correlate with popularity).

Training on the warm dataset should draw BPR negatives among the warm items only
(:class:`WarmNegativeSampler`): a new item does not exist at training time, so it must not be
pushed down as a negative either.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.dataset import Dataset
from ..data.sampler import BPRSampler
from ..tasks.metrics import rank_metrics, topk_items
from ..nn.base import eval_embeddings

__all__ = ["ColdStartSplit", "cold_item_split", "ColdStartEvaluator", "WarmNegativeSampler", "content_knn_scores",
           "popularity_scores", "chance_recall"]


@dataclass
class ColdStartSplit:
    """``warm``: the dataset without any interaction of a cold item; ``cold_items`` int64 ``[C]``
    (sorted); ``cold`` int64 ``[m, 2]`` the held-out (user, item) pairs (from train, valid and test)."""
    warm: Dataset
    cold_items: np.ndarray
    cold: np.ndarray


def cold_item_split(dataset: Dataset, fraction: float = 0.2, seed: int = 0) -> ColdStartSplit:
    """Hold out ``round(fraction * n_interacted_items)`` items entirely (see the module docstring)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"cold_item_split: fraction must be in (0, 1), got {fraction!r}")
    pairs = np.concatenate([dataset.train, dataset.valid, dataset.test])
    seen = np.unique(pairs[:, 1])
    n_cold = int(round(fraction * len(seen)))
    if n_cold < 1 or n_cold >= len(seen):
        raise ValueError(f"cold_item_split: fraction {fraction} of {len(seen)} items leaves no cold or no warm item")
    rng = np.random.default_rng(seed)
    cold_items = np.sort(rng.choice(seen, size=n_cold, replace=False))
    is_cold = np.zeros(dataset.n_items, bool)
    is_cold[cold_items] = True

    def keep(a: np.ndarray) -> np.ndarray:
        return a[~is_cold[a[:, 1]]]

    warm = Dataset(f"{dataset.name}-warm", dataset.n_users, dataset.n_items, keep(dataset.train),
                   keep(dataset.valid), keep(dataset.test), social=dataset.social,
                   user_ids=dataset.user_ids, item_ids=dataset.item_ids)
    cold = pairs[is_cold[pairs[:, 1]]]
    cold = cold[np.lexsort((cold[:, 1], cold[:, 0]))]
    return ColdStartSplit(warm, cold_items, cold)


def chance_recall(split: ColdStartSplit, k: int = 20) -> float:
    """Expected Recall@K of a random ranking of the cold items: ``min(K, C) / C``."""
    c = len(split.cold_items)
    return min(k, c) / c


class ColdStartEvaluator:
    """Recall / NDCG @K over the cold items of ``split`` (protocol in the module docstring).

    :meth:`evaluate` takes a :class:`~darts_gnn.nn.Recommender`; :meth:`evaluate_scores` takes any
    ``scores(users [B]) -> [B, C]`` function over ``split.cold_items`` (for the baselines)."""

    def __init__(self, split: ColdStartSplit, ks=(20,), batch_users: int = 1024):
        self.split, self.ks, self.batch_users = split, tuple(int(k) for k in ks), int(batch_users)
        n_users = split.warm.n_users
        pairs = split.cold
        counts = np.bincount(pairs[:, 0], minlength=n_users)
        self.rowptr = torch.from_numpy(np.r_[0, np.cumsum(counts)].astype(np.int64))
        self.items = torch.from_numpy(pairs[:, 1].copy())
        self.users = torch.from_numpy(np.flatnonzero(counts > 0).astype(np.int64))
        self.cold_items = torch.from_numpy(split.cold_items.astype(np.int64))

    @torch.no_grad()
    def evaluate(self, model) -> dict[str, float]:
        u, i = eval_embeddings(model)
        u, ic = u.detach().float().cpu(), i.detach().float().cpu()[self.cold_items]
        return self.evaluate_scores(lambda users: u[users] @ ic.T)

    @torch.no_grad()
    def evaluate_scores(self, scores) -> dict[str, float]:
        kmax = max(self.ks)
        sums: dict[str, float] = {}
        for start in range(0, len(self.users), self.batch_users):
            users = self.users[start:start + self.batch_users]
            s = torch.as_tensor(scores(users), dtype=torch.float32)
            top = self.cold_items[topk_items(s, kmax)]               # [B, K] item ids
            m = rank_metrics(top, self.rowptr, self.items, users, self.ks)
            for key, v in m.items():
                if key.split("@")[0] in ("recall", "ndcg"):
                    sums[key] = sums.get(key, 0.0) + float(v.sum())
        n = max(1, len(self.users))
        return {k: v / n for k, v in sums.items()}


def content_knn_scores(dataset: Dataset, item_features: torch.Tensor, candidates: torch.Tensor):
    r"""Content nearest neighbours: :math:`s(u, i) = \frac{1}{|N_u|} \sum_{j \in N_u} \cos(x_i, x_j)`
    over ``u``'s training items :math:`N_u`. Returns ``scores(users [B]) -> [B, len(candidates)]``."""
    x = torch.nn.functional.normalize(torch.as_tensor(item_features, dtype=torch.float32), dim=1)
    rowptr, items = dataset.user_items("train")
    counts = (rowptr[1:] - rowptr[:-1]).clamp_min(1).to(torch.float32)
    users_of = torch.repeat_interleave(torch.arange(dataset.n_users), rowptr[1:] - rowptr[:-1])
    profile = torch.zeros(dataset.n_users, x.shape[1]).index_add_(0, users_of, x[items]) / counts[:, None]
    xc = x[candidates]
    return lambda users: profile[users] @ xc.T


def popularity_scores(dataset: Dataset, candidates: torch.Tensor, seed: int = 0):
    """Training-interaction counts of ``candidates``, the same for every user; ties are broken by a
    seeded random order (a fraction below 1 added to the counts)."""
    pop = torch.bincount(torch.from_numpy(dataset.train[:, 1]), minlength=dataset.n_items).double()[candidates]
    g = torch.Generator().manual_seed(seed)
    pop = pop + torch.randperm(len(candidates), generator=g).double() / (len(candidates) + 1)
    return lambda users: pop.expand(len(users), -1)


class WarmNegativeSampler(BPRSampler):
    """A :class:`~darts_gnn.data.BPRSampler` over ``split.warm`` whose negatives are drawn uniformly
    among the warm items (never a cold item, never a positive); same determinism per ``(seed, epoch)``."""

    def __init__(self, split: ColdStartSplit, batch_size: int, seed: int = 0):
        super().__init__(split.warm, batch_size, seed)
        warm = np.ones(split.warm.n_items, bool)
        warm[split.cold_items] = False
        self.warm_items = np.flatnonzero(warm)

    def sample_negatives(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        n = len(self.warm_items)
        neg = self.warm_items[rng.integers(0, n, size=len(users))]
        todo = np.flatnonzero(self.is_positive(users, neg))
        while len(todo):
            neg[todo] = self.warm_items[rng.integers(0, n, size=len(todo))]
            todo = todo[self.is_positive(users[todo], neg[todo])]
        return neg
