"""Full-ranking top-K evaluation under the LightGCN protocol.

For every user with at least one interaction in the evaluated split, score all items, mask the items
the user already interacted with (train for ``valid``; train and valid for ``test``), take the top K
and compare with the split's items:

* ``recall@K``    = hits / |split items of the user|
* ``precision@K`` = hits / K
* ``hitrate@K``   = 1 if hits > 0 else 0
* ``ndcg@K``      = DCG / IDCG with DCG = sum over hit ranks r (0-based) of 1 / log2(r + 2) and IDCG the
  same sum over the first min(|split items|, K) ranks

each averaged over those users. Ties in the scores are broken by the lowest item id (the order a
stable descending sort gives), so results never depend on ``torch.topk``'s unspecified tie order.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch

from .. import distributed
from ..nn.base import eval_embeddings

__all__ = ["Evaluator", "SampledEvaluator", "rank_metrics", "topk_items", "METRICS", "monitor_metric"]

METRICS = ("recall", "ndcg", "precision", "hitrate")


def _csr_rows(rowptr: torch.Tensor, items: torch.Tensor, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(row, item)`` of the CSR entries of ``users``; ``row`` indexes ``users`` (0..B-1)."""
    start = rowptr[users]
    count = rowptr[users + 1] - start
    rows = torch.repeat_interleave(torch.arange(len(users), device=users.device), count)
    offset = torch.repeat_interleave(start - (torch.cumsum(count, 0) - count), count)
    pos = torch.arange(rows.numel(), device=users.device) + offset
    return rows, items[pos]


def topk_items(scores: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` best item ids ``[B, k]`` of each row of ``scores`` ``[B, I]``, best first.

    Equal scores are ordered by item id, lowest first, exactly as
    ``scores.sort(dim=1, descending=True, stable=True).indices[:, :k]`` but at the cost of a
    ``topk(k + 1)``: only rows whose K-th score is tied with an unselected item fall back to the sort.
    """
    n_items = scores.size(1)
    k = min(int(k), n_items)
    if k == 0:
        return scores.new_zeros((scores.size(0), 0), dtype=torch.int64)
    # One extra place reveals a tie at the boundary: an unselected item scores as high as the K-th
    # selected one exactly when the (K+1)-th largest score equals the K-th.
    vals, idx = scores.topk(min(k + 1, n_items), dim=1)
    if k < n_items:
        boundary = (vals[:, k] == vals[:, k - 1]).nonzero().flatten()
        vals, idx = vals[:, :k], idx[:, :k]
        if boundary.numel():
            sub = scores[boundary].sort(dim=1, descending=True, stable=True)
            vals, idx = vals.clone(), idx.clone()
            vals[boundary] = sub.values[:, :k]
            idx[boundary] = sub.indices[:, :k]
    # Within the selection: item id ascending, then a stable sort by score descending.
    idx, perm = idx.sort(dim=1)
    order = vals.gather(1, perm).sort(dim=1, descending=True, stable=True).indices
    return idx.gather(1, order)


def rank_metrics(topk: torch.Tensor, rowptr: torch.Tensor, items: torch.Tensor, users: torch.Tensor,
                 ks: Iterable[int]) -> dict[str, torch.Tensor]:
    """Per-user metrics of a ranking (no averaging).

    Args:
        topk: ``[B, Kmax]`` recommended item ids per user, best first.
        rowptr, items: CSR of the ground truth over all users (``items[rowptr[u]:rowptr[u+1]]`` are
            user ``u``'s relevant items), e.g. ``dataset.user_items("test")``.
        users: ``[B]`` the user id of each row of ``topk``.
        ks: cut-offs; a K larger than ``Kmax`` uses all ``Kmax`` positions (precision still divides by K).

    Returns:
        ``{"recall@K", "ndcg@K", "precision@K", "hitrate@K"}`` -> float64 ``[B]``. Users without
        relevant items get 0 for every metric (the :class:`Evaluator` leaves them out).
    """
    topk = topk.to(torch.int64).cpu()
    users = users.to(torch.int64).cpu()
    B, kmax = topk.shape
    rows, truth = _csr_rows(rowptr, items, users)
    n_true = torch.bincount(rows, minlength=B).to(torch.float64)
    width = int(max(int(truth.max()) if truth.numel() else 0, int(topk.max()) if topk.numel() else 0)) + 1
    keys = (rows * width + truth).sort().values
    query = torch.arange(B).unsqueeze(1) * width + topk
    if keys.numel():
        loc = torch.searchsorted(keys, query).clamp(max=keys.numel() - 1)
        hit = (keys[loc] == query).to(torch.float64)
    else:
        hit = torch.zeros(B, kmax, dtype=torch.float64)
    disc = 1.0 / torch.log2(torch.arange(kmax, dtype=torch.float64) + 2.0)
    ideal = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(disc, 0)])  # ideal[m] = IDCG of m hits
    out: dict[str, torch.Tensor] = {}
    for k in ks:
        k = int(k)
        h = hit[:, :k]
        n_hit = h.sum(1)
        idcg = ideal[torch.clamp(n_true, max=min(k, kmax)).to(torch.int64)]
        out[f"recall@{k}"] = n_hit / n_true.clamp(min=1)
        out[f"ndcg@{k}"] = torch.where(idcg > 0, (h * disc[:k]).sum(1) / idcg.clamp(min=1e-12), 0.0)
        out[f"precision@{k}"] = n_hit / k
        out[f"hitrate@{k}"] = (n_hit > 0).to(torch.float64)
    return out


class Evaluator:
    """Full-ranking evaluation of a :class:`~darts_gnn.nn.Recommender` on a split of ``dataset``.

    ``evaluate(model, split)`` calls ``model.embeddings()`` once (in eval mode, without gradients),
    then scores users ``batch_users`` at a time against all items, so at most a
    ``[batch_users, n_items]`` score block exists at once. Known items are masked with ``-inf``:
    train for ``split="valid"``, train and valid for ``split="test"``. Metrics are averaged over users
    with at least one item in the split. See the module docstring for the definitions and ties.

    Args:
        dataset: a :class:`~darts_gnn.data.Dataset`.
        ks: cut-offs K.
        batch_users: users scored per block (memory ~ ``4 * batch_users * n_items`` bytes).
    """

    _MASK = {"valid": ("train",), "test": ("train", "valid")}

    def __init__(self, dataset, ks: Sequence[int] = (20,), batch_users: int = 2048):
        ks = [int(k) for k in ks]
        if not ks or any(k <= 0 for k in ks):
            raise ValueError(f"Evaluator: ks must be a non-empty list of positive integers, got {ks!r}")
        if batch_users <= 0:
            raise ValueError(f"Evaluator: batch_users must be positive, got {batch_users}")
        self.dataset = dataset
        self.ks = ks
        self.batch_users = int(batch_users)

    def users(self, split: str) -> torch.Tensor:
        """Ids of the users that ``split`` evaluates (those with at least one item in it)."""
        rowptr, _ = self.dataset.user_items(split)
        return ((rowptr[1:] - rowptr[:-1]) > 0).nonzero().flatten()

    @torch.no_grad()
    def evaluate(self, model, split: str = "test") -> dict[str, float]:
        """``{"recall@K", "ndcg@K", "precision@K", "hitrate@K"}`` for each K, averaged over users."""
        values = self.per_user(model, split)
        n = self.users(split).numel()
        # summed block by block as one process always did, so the result does not depend on the ranks
        return {name: sum(float(b.sum()) for b in v.split(self.batch_users)) / n for name, v in values.items()}

    @torch.no_grad()
    def per_user(self, model, split: str = "test") -> dict[str, torch.Tensor]:
        """The same metrics per evaluated user: ``{name: [U] float64}``, in the order of
        :meth:`users` (paired comparisons of two models on the same users)."""
        if split not in self._MASK:
            raise ValueError(f"Evaluator.evaluate: split must be 'valid' or 'test', got {split!r}")
        users = self.users(split)
        if users.numel() == 0:
            raise ValueError(f"Evaluator.evaluate: the {split!r} split has no interactions; "
                             f"nothing to evaluate (set data.valid_fraction > 0 for validation)")
        truth_ptr, truth_items = self.dataset.user_items(split)
        mask_ptr, mask_items = self.dataset.user_items(*self._MASK[split])
        user_emb, item_emb = eval_embeddings(model)
        device = user_emb.device
        kmax = max(self.ks)
        # data parallel: this rank's blocks of users (the blocks one process scores), gathered below
        lo, hi = (b * self.batch_users for b in distributed.shard_range(-(-users.numel() // self.batch_users)))
        per_user: dict[str, list[torch.Tensor]] = {f"{m}@{k}": [] for k in self.ks for m in METRICS}
        for batch in users[lo:hi].split(self.batch_users):
            scores = user_emb[batch.to(device)] @ item_emb.t()
            rows, cols = _csr_rows(mask_ptr, mask_items, batch)
            scores[rows.to(device), cols.to(device)] = float("-inf")
            top = topk_items(scores, kmax)
            for name, v in rank_metrics(top, truth_ptr, truth_items, batch, self.ks).items():
                per_user[name].append(v)
        return distributed.gather_rows({k: torch.cat(v) if v else torch.zeros(0, dtype=torch.float64)
                                        for k, v in per_user.items()})


class SampledEvaluator(Evaluator):
    """An :class:`Evaluator` over a fixed random subset of at most ``max_users`` of each split's users
    (drawn once per split from a generator seeded with ``seed``, kept in id order): the cost of one
    evaluation is ``O(max_users x n_items)`` instead of ``O(U x n_items)``. For the many cheap
    evaluations of a search (the supernet with α one-hot at a genotype); never for a model's reported
    numbers. A split with at most ``max_users`` users is evaluated whole."""

    def __init__(self, evaluator: Evaluator, max_users: int, seed: int = 0):
        super().__init__(evaluator.dataset, evaluator.ks, evaluator.batch_users)
        if int(max_users) < 1:
            raise ValueError(f"SampledEvaluator: max_users must be a positive integer, got {max_users!r}")
        self.max_users, self.seed = int(max_users), int(seed)
        self._subsets: dict[str, torch.Tensor] = {}

    def users(self, split: str) -> torch.Tensor:
        if split not in self._subsets:
            every = super().users(split)
            if every.numel() > self.max_users:
                gen = torch.Generator().manual_seed(self.seed)
                every = every[torch.randperm(every.numel(), generator=gen)[:self.max_users].sort().values]
            self._subsets[split] = every
        return self._subsets[split]


def monitor_metric(ks: Sequence[int]) -> str:
    """The metric that selects models: ``recall@20`` when 20 is among ``ks``, else ``recall@<first K>``."""
    ks = list(ks)
    if not ks:
        raise ValueError("monitor_metric: ks is empty; give at least one cut-off K")
    return "recall@20" if 20 in ks else f"recall@{ks[0]}"
