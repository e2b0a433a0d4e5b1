r"""Full-ranking evaluation of friend recommendation: rank every user for each user.

For every user with at least one friendship in the evaluated split, score all ``U`` users, mask the
user itself and its known friends (the training friendships for ``valid``; training and validation
for ``test``) with :math:`-\infty`, take the top K and compare with the split's friends:
Recall@K, NDCG@K, Precision@K, HitRate@K exactly as :mod:`darts_gnn.tasks.metrics` defines them for items
(ties broken by the lowest user id), averaged over those users.

A learned model scores :math:`s(u, v) = \langle e_u, e_v \rangle` with its final user embeddings
``[U, d]`` (``model.embeddings()[0]``); anything with ``score_users(users [B]) -> [B, U]`` (e.g. a
:class:`darts_gnn.tasks.heuristics.LinkHeuristic`) is ranked the same way.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..data.friends import FriendSplit
from .metrics import METRICS, _csr_rows, rank_metrics, topk_items
from ..nn.base import eval_embeddings

__all__ = ["FriendEvaluator", "friend_scorer"]


def friend_scorer(model):
    """``users [B] -> scores [B, U]`` for ``model``: its own ``score_users`` when it has one, else
    the inner products of its final user embeddings (computed once, in eval mode)."""
    if hasattr(model, "score_users"):
        return model.score_users
    user_emb, _ = eval_embeddings(model)

    def score(users: torch.Tensor) -> torch.Tensor:
        return user_emb[users.to(user_emb.device)] @ user_emb.t()
    return score


class FriendEvaluator:
    """Recall/NDCG@K of friend recommendation on a :class:`~darts_gnn.data.friends.FriendSplit`.

    Args:
        friends: the split; ``evaluate(model, "valid" | "test")``.
        ks: cut-offs K.
        batch_users: users scored per block (memory ~ ``4 * batch_users * U`` bytes).
    """

    _MASK = {"valid": ("train",), "test": ("train", "valid")}

    def __init__(self, friends: FriendSplit, ks: Sequence[int] = (20,), batch_users: int = 2048):
        ks = [int(k) for k in ks]
        if not ks or any(k <= 0 for k in ks):
            raise ValueError(f"FriendEvaluator: ks must be positive integers, got {ks!r}")
        self.friends = friends
        self.ks = ks
        self.batch_users = int(batch_users)

    def users(self, split: str) -> torch.Tensor:
        """Users with at least one friendship in ``split``."""
        rowptr, _ = self.friends.csr(split)
        return ((rowptr[1:] - rowptr[:-1]) > 0).nonzero().flatten()

    def masked_scores(self, score, batch: torch.Tensor, split: str) -> torch.Tensor:
        """Scores ``[B, U]`` of ``batch`` with the user itself and its known friends at ``-inf``."""
        mask_ptr, mask_cols = self.friends.csr(*self._MASK[split])
        scores = score(batch).clone()
        rows, cols = _csr_rows(mask_ptr, mask_cols, batch)
        dev = scores.device
        scores[rows.to(dev), cols.to(dev)] = float("-inf")
        scores[torch.arange(len(batch), device=dev), batch.to(dev)] = float("-inf")
        return scores

    @torch.no_grad()
    def evaluate(self, model, split: str = "test") -> dict[str, float]:
        """``{"recall@K", "ndcg@K", "precision@K", "hitrate@K"}`` averaged over the split's users."""
        if split not in self._MASK:
            raise ValueError(f"FriendEvaluator.evaluate: split must be 'valid' or 'test', got {split!r}")
        users = self.users(split)
        if users.numel() == 0:
            raise ValueError(f"FriendEvaluator.evaluate: the {split!r} split has no friendships "
                             f"(set task.valid_fraction > 0 for validation)")
        score = friend_scorer(model)
        truth_ptr, truth_cols = self.friends.csr(split)
        sums = {f"{m}@{k}": 0.0 for k in self.ks for m in METRICS}
        for batch in users.split(self.batch_users):
            top = topk_items(self.masked_scores(score, batch, split), max(self.ks))
            for name, v in rank_metrics(top, truth_ptr, truth_cols, batch, self.ks).items():
                sums[name] += float(v.sum())
        return {name: total / users.numel() for name, total in sums.items()}
