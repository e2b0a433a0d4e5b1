"""BPR triples ``(user, positive item, negative item)`` for training, sampled without Python loops."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .dataset import Dataset, DataError

__all__ = ["BPRSampler", "ValidSampler"]


class BPRSampler:
    r"""Mini-batches of BPR triples over one split's interactions (``train`` by default).

    One epoch visits every ``(user, item)`` pair of the split once, in a random order, and pairs it
    with one negative item drawn uniformly from the items the user has *not* interacted with in that
    split (rejection sampling: draw ``j`` uniformly from ``0..I-1``, look up the key
    :math:`u \cdot I + j` in the sorted keys of the positives with ``np.searchsorted``, redraw the
    collisions, repeat until none is left).

    Each batch is ``(users, pos, neg)``, three int64 tensors of shape ``[B]`` with
    ``B = batch_size`` (the last batch may be smaller).

    Determinism: epoch ``e`` is a pure function of ``(seed, e)``: :meth:`epoch` ``(e)`` always yields
    the same batches, whatever ran before (so a run resumed at epoch ``e`` sees the same data).
    Iterating the sampler itself (``for batch in sampler``) yields epoch ``sampler.epoch_index``
    and then advances ``epoch_index`` by one.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int = 0, split: str = "train"):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        pairs = dataset.split(split)
        if len(pairs) == 0:
            raise DataError(f"{dataset.name}: the {split} split is empty; nothing to sample")
        self.n_users = dataset.n_users
        self.n_items = dataset.n_items
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch_index = 0
        by_user = np.argsort(pairs[:, 0], kind="stable")  # sorted queries make searchsorted ~5x faster
        self.users = np.ascontiguousarray(pairs[by_user, 0])
        self.items = np.ascontiguousarray(pairs[by_user, 1])
        keys = np.sort(self.users * self.n_items + self.items)
        self._pos_keys = keys[np.r_[True, keys[1:] != keys[:-1]]]  # sorted, unique
        full = np.bincount(self._pos_keys // self.n_items, minlength=self.n_users) >= self.n_items
        if full.any():
            u = int(np.flatnonzero(full)[0])
            raise DataError(f"{dataset.name}: user {u} has interacted with all {self.n_items} items, "
                            f"so no negative item exists for BPR")

    def __len__(self) -> int:
        """Batches per epoch."""
        return -(-len(self.users) // self.batch_size)

    @property
    def num_interactions(self) -> int:
        return len(self.users)

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Bool ``[n]``: whether each ``(user, item)`` is a positive pair of the split."""
        keys = np.asarray(users, dtype=np.int64) * self.n_items + np.asarray(items, dtype=np.int64)
        pos = np.searchsorted(self._pos_keys, keys)
        pos = np.minimum(pos, len(self._pos_keys) - 1)
        return self._pos_keys[pos] == keys

    def sample_negatives(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniform negative item per entry of ``users`` (int64 ``[n]``), never a positive."""
        users = np.asarray(users, dtype=np.int64)
        neg = rng.integers(0, self.n_items, size=len(users), dtype=np.int64)
        todo = np.flatnonzero(self.is_positive(users, neg))
        while len(todo):
            neg[todo] = rng.integers(0, self.n_items, size=len(todo), dtype=np.int64)
            todo = todo[self.is_positive(users[todo], neg[todo])]
        return neg

    def epoch(self, e: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The batches of epoch ``e``: a fresh shuffle and fresh negatives from ``(seed, e)``."""
        rng = np.random.default_rng([self.seed, int(e)])
        neg = self.sample_negatives(self.users, rng)  # in user order (fast lookups), then shuffled
        order = rng.permutation(len(self.users))
        users, pos, neg = self.users[order], self.items[order], neg[order]
        u_t, p_t, n_t = (torch.from_numpy(a) for a in (users, pos, neg))
        for s in range(0, len(order), self.batch_size):
            yield u_t[s:s + self.batch_size], p_t[s:s + self.batch_size], n_t[s:s + self.batch_size]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        e = self.epoch_index
        self.epoch_index += 1
        return self.epoch(e)

    def __repr__(self) -> str:
        return (f"BPRSampler(interactions={len(self.users)}, batch_size={self.batch_size}, "
                f"seed={self.seed}, epoch_index={self.epoch_index})")


class ValidSampler(BPRSampler):
    """BPR triples over the validation pairs; negatives avoid the user's train *and* valid items."""

    def __init__(self, dataset, batch_size: int, seed: int = 0):
        super().__init__(dataset, batch_size, seed, split="valid")
        known = np.concatenate([dataset.train, dataset.valid])
        self._known = np.unique(known[:, 0] * self.n_items + known[:, 1])
        full = np.bincount(self._known // self.n_items, minlength=self.n_users) >= self.n_items
        if full[np.unique(self.users)].any():
            raise DataError(f"{dataset.name}: a validation user knows every item; no BPR negative exists")

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = np.asarray(users, dtype=np.int64) * self.n_items + np.asarray(items, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._known, keys), len(self._known) - 1)
        return self._known[pos] == keys
