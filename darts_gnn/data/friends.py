r"""Friendship (user-user) splits for friend recommendation: a seeded, symmetric, per-user holdout.

A trust network is undirected: the friendship :math:`\{u, v\}` is one pair, held out (or kept) for
both users at once. :func:`split_friendships` holds out, for every user of degree :math:`d`, at most
:math:`h(d)` friendships (:func:`darts_gnn.data.splits.holdout_counts`: ``round(f d)``, at least one
when :math:`d \ge 2`, and never the user's last friend), greedily over the pairs in a seeded random
order: a pair goes to the held-out side when neither of its users has reached their quota. So the
split is symmetric by construction, every user keeps at least one training friend, and no user
loses more than its share; a user whose friends all filled their quotas first may get fewer.

Pairs are stored undirected, ``u < v``, int64 ``[m, 2]``; :func:`friend_csr` gives the symmetric
CSR (both directions) that samplers and evaluators index by user.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .dataset import DataError
from .splits import holdout_counts

__all__ = ["FriendSplit", "undirected_pairs", "split_friendships", "friend_csr"]


def undirected_pairs(pairs: np.ndarray, n_users: int) -> np.ndarray:
    """``pairs`` ``[m, 2]`` as unique undirected pairs ``(min, max)``, self-loops dropped, sorted."""
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if p.size and (p.min() < 0 or p.max() >= n_users):
        raise DataError(f"friendships: user id out of range [0, {n_users}), got "
                        f"[{int(p.min())}, {int(p.max())}]")
    p = p[p[:, 0] != p[:, 1]]
    p = np.sort(p, axis=1)
    return np.unique(p, axis=0) if len(p) else p.reshape(0, 2)


def _holdout(pairs: np.ndarray, n_users: int, fraction: float, rng: np.random.Generator
             ) -> np.ndarray:
    """Bool ``[m]``: the pairs held out (greedy under per-user quotas, see the module docstring)."""
    deg = np.bincount(pairs.ravel(), minlength=n_users)
    quota = holdout_counts(deg, fraction)
    held = np.zeros(n_users, dtype=np.int64)
    out = np.zeros(len(pairs), dtype=bool)
    for k in rng.permutation(len(pairs)):
        u, v = pairs[k]
        if held[u] < quota[u] and held[v] < quota[v]:
            held[u] += 1
            held[v] += 1
            out[k] = True
    return out


@dataclass
class FriendSplit:
    """Undirected friendships ``(u, v)`` with ``u < v`` (int64 ``[m, 2]``) split three ways.

    ``train`` feeds the graph, the training loss and the heuristics; ``valid`` selects (early
    stopping, α); ``test`` is only reported. The three are disjoint.
    """
    n_users: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    def split(self, name: str) -> np.ndarray:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"unknown split {name!r}; expected 'train', 'valid' or 'test'")
        return getattr(self, name)

    def csr(self, *splits: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Symmetric CSR ``(rowptr [U+1], friends [2m])`` of the union of ``splits``."""
        parts = [self.split(s) for s in splits]
        pairs = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
        return friend_csr(pairs, self.n_users)

    def stats(self) -> dict:
        return {"friends_train": len(self.train), "friends_valid": len(self.valid),
                "friends_test": len(self.test)}


def split_friendships(pairs: np.ndarray, n_users: int, test_fraction: float = 0.2,
                      valid_fraction: float = 0.1, seed: int = 2020) -> FriendSplit:
    """Hold out ``test_fraction`` of each user's friendships, then ``valid_fraction`` of the rest.

    ``pairs``: user-user edges ``[m, 2]`` in either or both directions (made undirected first).
    Seeded by ``seed``: the same pairs and seed give the same split. See the module docstring.
    """
    for name, f in (("test_fraction", test_fraction), ("valid_fraction", valid_fraction)):
        if not 0.0 <= f < 1.0:
            raise ValueError(f"split_friendships: {name} must be in [0, 1), got {f!r}")
    und = undirected_pairs(pairs, n_users)
    if not len(und):
        raise DataError("friendships: no user-user pair left to split (empty or only self-loops)")
    rng = np.random.default_rng([int(seed), 12])
    test = _holdout(und, n_users, test_fraction, rng)
    rest = und[~test]
    valid = _holdout(rest, n_users, valid_fraction, rng)
    return FriendSplit(n_users, rest[~valid], rest[valid], und[test])


def friend_csr(pairs: np.ndarray, n_users: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric CSR of undirected ``pairs`` ``[m, 2]``: ``(rowptr [U+1], friends [2m])``, each
    row's friends sorted ascending (both directions of every pair are present)."""
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    src = np.concatenate([p[:, 0], p[:, 1]])
    dst = np.concatenate([p[:, 1], p[:, 0]])
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    rowptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_users), out=rowptr[1:])
    return torch.from_numpy(rowptr), torch.from_numpy(dst.copy())
