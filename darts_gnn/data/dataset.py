"""The in-memory interaction data set shared by every stage of darts-gnn."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import DataError

__all__ = ["Dataset", "DataError"]


def _as_pairs(a, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.int64)
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise DataError(f"{name}: expected an int array of shape [n, 2] (user, item), got shape {arr.shape}")
    return arr


@dataclass
class Dataset:
    """Implicit-feedback interactions split into train / valid / test.

    Users are ``0..n_users-1`` and items ``0..n_items-1``. Each split is an int64 array of shape
    ``[n, 2]`` holding ``(user, item)`` pairs; the three splits are disjoint. ``social`` holds optional
    user-user edges ``[m, 2]``. ``user_ids`` / ``item_ids`` keep the original (file) ids when they were
    remapped, so that recommendations can be reported in the user's own ids. ``ratings``: explicit
    ratings by pair when the source has them (a :class:`~darts_gnn.data.ratings.RatingTable`; the
    ``rating`` task reads it, ranking ignores it).
    """

    name: str
    n_users: int
    n_items: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    social: np.ndarray | None = None
    user_ids: list[str] | None = None
    item_ids: list[str] | None = None
    ratings: Any = None
    _csr_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.train = _as_pairs(self.train, "train")
        self.valid = _as_pairs(self.valid, "valid")
        self.test = _as_pairs(self.test, "test")
        if self.social is not None:
            self.social = _as_pairs(self.social, "social")
        for split in ("train", "valid", "test"):
            arr = getattr(self, split)
            if len(arr) and (arr[:, 0].min() < 0 or arr[:, 0].max() >= self.n_users):
                raise DataError(f"{split}: user id out of range [0, {self.n_users})")
            if len(arr) and (arr[:, 1].min() < 0 or arr[:, 1].max() >= self.n_items):
                raise DataError(f"{split}: item id out of range [0, {self.n_items})")

    # ------------------------------------------------------------------ views
    def split(self, name: str) -> np.ndarray:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"unknown split {name!r}; expected 'train', 'valid' or 'test'")
        return getattr(self, name)

    def user_items(self, *splits: str) -> tuple[torch.Tensor, torch.Tensor]:
        """CSR ``(rowptr [U+1], items [n])`` of the union of ``splits``, items sorted per user."""
        key = tuple(sorted(splits))
        if key not in self._csr_cache:
            pairs = np.concatenate([self.split(s) for s in key]) if key else np.zeros((0, 2), np.int64)
            order = np.lexsort((pairs[:, 1], pairs[:, 0]))
            pairs = pairs[order]
            counts = np.bincount(pairs[:, 0], minlength=self.n_users)
            rowptr = np.zeros(self.n_users + 1, dtype=np.int64)
            np.cumsum(counts, out=rowptr[1:])
            self._csr_cache[key] = (torch.from_numpy(rowptr), torch.from_numpy(pairs[:, 1].copy()))
        return self._csr_cache[key]

    def stats(self) -> dict:
        n = len(self.train) + len(self.valid) + len(self.test)
        return {
            "users": self.n_users,
            "items": self.n_items,
            "train": len(self.train),
            "valid": len(self.valid),
            "test": len(self.test),
            "density": n / max(1, self.n_users * self.n_items),
            "social_edges": 0 if self.social is None else len(self.social),
        }

    def __repr__(self) -> str:  # short, the arrays can be huge
        s = self.stats()
        return (f"Dataset({self.name!r}, users={s['users']}, items={s['items']}, train={s['train']}, "
                f"valid={s['valid']}, test={s['test']}, social={s['social_edges']})")
