r"""BPR triples over friendships ``(user, friend, non-friend)``, optionally with user-item triples.

One epoch visits every training friendship once in each direction, in a random order; each
``(u, v)`` gets one negative user :math:`w` drawn uniformly among the users that are neither ``u``
nor a known friend of ``u`` (rejection sampling on the sorted keys :math:`u \cdot U + w`). For the
validation sampler the positives are the validation friendships and the negatives avoid the
training and validation friends.

With ``items`` (a :class:`~darts_gnn.data.BPRSampler` over the user-item training pairs) every batch
also carries ``B`` user-item BPR triples drawn at random from the interactions: the batch is
``(users, pos, neg, item_users, item_pos, item_neg)``, six int64 ``[B]`` tensors; without it,
``(users, pos, neg)``. Epoch ``e`` is a pure function of ``(seed, e)``.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .dataset import DataError
from .friends import FriendSplit
from .sampler import BPRSampler

__all__ = ["FriendSampler"]


class FriendSampler:
    """Friend-BPR batches (see the module docstring).

    Args:
        friends: the friendship split.
        batch_size: triples per batch (the last batch may be smaller).
        seed: base seed.
        split: ``train`` (negatives avoid train friends) or ``valid`` (positives: valid friendships;
            negatives avoid train and valid friends).
        items: optional user-item sampler whose triples are added to each batch.
    """

    def __init__(self, friends: FriendSplit, batch_size: int, seed: int = 0, split: str = "train",
                 items: BPRSampler | None = None):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if split not in ("train", "valid"):
            raise ValueError(f"FriendSampler: split must be 'train' or 'valid', got {split!r}")
        pos = friends.split(split)
        if not len(pos):
            raise DataError(f"friendships: the {split} split is empty; nothing to sample")
        self.n_users = friends.n_users
        self.batch_size, self.seed, self.epoch_index = int(batch_size), int(seed), 0
        self.items = items
        self.users = np.concatenate([pos[:, 0], pos[:, 1]])
        self.pos = np.concatenate([pos[:, 1], pos[:, 0]])
        known = np.concatenate([friends.train] + ([friends.valid] if split == "valid" else []))
        n = self.n_users
        keys = np.concatenate([known[:, 0] * n + known[:, 1], known[:, 1] * n + known[:, 0],
                               np.arange(n) * (n + 1)])  # friends both ways, and the user itself
        self._known = np.unique(keys)
        full = np.bincount(self._known // n, minlength=n) >= n
        if full[self.users].any():
            u = int(self.users[full[self.users]][0])
            raise DataError(f"friendships: user {u} is a friend of every other user; no negative exists")

    def __len__(self) -> int:
        return -(-len(self.users) // self.batch_size)

    def is_known(self, users: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Bool ``[n]``: ``others[k]`` is ``users[k]`` itself or one of its known friends."""
        keys = users * self.n_users + others
        at = np.minimum(np.searchsorted(self._known, keys), len(self._known) - 1)
        return self._known[at] == keys

    def sample_negatives(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniform non-friend (not the user itself) per entry of ``users``."""
        neg = rng.integers(0, self.n_users, size=len(users), dtype=np.int64)
        todo = np.flatnonzero(self.is_known(users, neg))
        while len(todo):
            neg[todo] = rng.integers(0, self.n_users, size=len(todo), dtype=np.int64)
            todo = todo[self.is_known(users[todo], neg[todo])]
        return neg

    def _item_triples(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        pick = rng.integers(0, len(self.items.users), size=n)
        u = self.items.users[pick]
        return tuple(torch.from_numpy(a) for a in (u, self.items.items[pick], self.items.sample_negatives(u, rng)))

    def epoch(self, e: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """The batches of epoch ``e`` (fresh shuffle and negatives from ``(seed, e)``)."""
        rng = np.random.default_rng([self.seed, int(e), 7])
        order = rng.permutation(len(self.users))
        users, pos = self.users[order], self.pos[order]
        neg = self.sample_negatives(users, rng)
        u_t, p_t, n_t = (torch.from_numpy(a) for a in (users, pos, neg))
        for s in range(0, len(order), self.batch_size):
            batch = (u_t[s:s + self.batch_size], p_t[s:s + self.batch_size], n_t[s:s + self.batch_size])
            if self.items is not None:
                batch = batch + self._item_triples(len(batch[0]), rng)
            yield batch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        e = self.epoch_index
        self.epoch_index += 1
        return self.epoch(e)

    def __repr__(self) -> str:
        return (f"FriendSampler(pairs={len(self.users)}, batch_size={self.batch_size}, seed={self.seed}, "
                f"items={self.items is not None})")
