r"""Explicit ratings for the ``rating`` task: a lookup table and the loaders that fill it.

A :class:`RatingTable` maps a ``(user, item)`` pair to its rating; ``Dataset.ratings`` holds one when
the source has ratings (MovieLens files, a CSV with ``data.rating_col``, the synthetic generator with
``data.synthetic.ratings: true``). Keeping the ratings as a lookup rather than as arrays aligned with
the splits means no split, carve or filter of the pairs can put them out of step: a split's ratings
are ``dataset.ratings.lookup(dataset.valid)`` ``[n]`` float32.

:func:`load_given_ratings` reads a train file and a separate test file of the same format
(``data.split: given`` with ``data.test_path``; e.g. MovieLens-100K ``u1.base`` / ``u1.test``), maps
both onto one id space (original ids in increasing numeric order, as ``u.data`` is read), carves the
validation set from the training file (``data.valid_fraction``, seeded by ``data.seed``) and drops
test pairs of users without training pairs.

Synthetic ratings (:func:`synthetic_rating_table`): for each pair,
:math:`r_{ui} = \mathrm{clip}(\mathrm{round}(3 + 2.5 \langle x_u, y_i \rangle + b_i + 0.5 \epsilon), 1, 5)`
with the generator's unit-length latent factors :math:`x_u, y_i`, an item effect
:math:`b_i \sim N(0, 0.5^2)` and :math:`\epsilon \sim N(0, 1)`, seeded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import DataConfig, SyntheticConfig
from .dataset import DataError, Dataset
from .loaders import Interactions, drop_duplicates, load_csv, load_movielens
from .splits import carve_valid, drop_users_without_train, validation_times
from .synthetic import synthetic_interactions

__all__ = ["RatingTable", "load_given_ratings", "synthetic_rating_table"]


@dataclass
class RatingTable:
    """Ratings by pair: sorted keys ``user * n_items + item`` (int64 ``[n]``) and their ``values``
    (float32 ``[n]``). ``scale``: ``(lowest, highest)`` rating seen."""
    keys: np.ndarray
    values: np.ndarray
    n_items: int

    @classmethod
    def from_pairs(cls, pairs: np.ndarray, ratings: np.ndarray, n_items: int) -> "RatingTable":
        """The table of ``pairs`` ``[n, 2]`` and their ``ratings`` ``[n]`` (a repeated pair keeps the
        first rating); a NaN or infinite rating is a :class:`DataError`."""
        ratings = np.asarray(ratings, dtype=np.float64)
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if len(ratings) != len(pairs):
            raise DataError(f"ratings: {len(ratings)} values for {len(pairs)} pairs")
        if len(ratings) and not np.isfinite(ratings).all():
            k = int(np.flatnonzero(~np.isfinite(ratings))[0])
            raise DataError(f"ratings: rating {k} (pair {pairs[k].tolist()}) is {ratings[k]}; expected a "
                            f"finite number")
        keys, first = np.unique(pairs[:, 0] * n_items + pairs[:, 1], return_index=True)
        return cls(keys, ratings[first].astype(np.float32), int(n_items))

    @property
    def scale(self) -> tuple[float, float]:
        return float(self.values.min()), float(self.values.max())

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, pairs: np.ndarray) -> np.ndarray:
        """Ratings (float32 ``[n]``) of ``pairs`` ``[n, 2]``; a pair without one is a :class:`DataError`."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        keys = pairs[:, 0] * self.n_items + pairs[:, 1]
        if len(self.keys) == 0:
            if len(keys):
                raise DataError(f"ratings: pair {pairs[0].tolist()} has no rating (the table is empty)")
            return np.zeros(0, np.float32)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = self.keys[pos] == keys
        if not found.all():
            k = int(np.flatnonzero(~found)[0])
            raise DataError(f"ratings: pair (user {int(pairs[k, 0])}, item {int(pairs[k, 1])}) has no rating")
        return self.values[pos]

    def __repr__(self) -> str:
        lo, hi = self.scale if len(self) else (float("nan"), float("nan"))
        return f"RatingTable({len(self)} ratings in [{lo:g}, {hi:g}])"


def _read(cfg: DataConfig, path: str | Path) -> Interactions:
    if cfg.source == "movielens":
        inter = load_movielens(path, cfg.min_rating)
    else:
        inter = load_csv(path, cfg.user_col, cfg.item_col, cfg.rating_col, cfg.time_col, cfg.delimiter,
                         cfg.min_rating)
    if inter.ratings is None:
        raise DataError(f"{path}: no rating column (set data.rating_col to the rating column's header name)")
    return inter


def _joint_ids(a: list[str], b: list[str]) -> list[str]:
    """The union of two files' id lists, numeric ids in increasing numeric order, else sorted."""
    ids = sorted(set(a) | set(b))
    if all(x.lstrip("-").isdigit() for x in ids):
        ids.sort(key=int)
    return ids


def _remapped(inter: Interactions, user_ids: list[str], item_ids: list[str]) -> Interactions:
    umap = {s: k for k, s in enumerate(user_ids)}
    imap = {s: k for k, s in enumerate(item_ids)}
    u = np.asarray([umap[s] for s in inter.user_ids], dtype=np.int64)[inter.users]
    i = np.asarray([imap[s] for s in inter.item_ids], dtype=np.int64)[inter.items]
    return Interactions(inter.path, u, i, inter.lines, len(user_ids), len(item_ids), inter.ratings,
                        inter.times, user_ids, item_ids)


def load_given_ratings(cfg: DataConfig) -> Dataset:
    """A :class:`Dataset` with ``ratings`` from ``cfg.path`` (train) and ``cfg.test_path`` (test); see
    the module docstring."""
    if not cfg.test_path:
        raise DataError("data.test_path: required for data.split 'given' with data.source "
                        f"{cfg.source!r} (the test file, e.g. ../shared/data/ml-100k/u1.test)")
    train_i, test_i = _read(cfg, cfg.path), _read(cfg, cfg.test_path)
    user_ids = _joint_ids(train_i.user_ids, test_i.user_ids)
    item_ids = _joint_ids(train_i.item_ids, test_i.item_ids)
    train_i = drop_duplicates(_remapped(train_i, user_ids, item_ids), cfg.duplicates, what="train")
    test_i = drop_duplicates(_remapped(test_i, user_ids, item_ids), cfg.duplicates, against=train_i,
                             what="test")
    n_users, n_items = len(user_ids), len(item_ids)
    table = RatingTable.from_pairs(np.concatenate([train_i.pairs, test_i.pairs]),
                                   np.concatenate([train_i.ratings, test_i.ratings]), n_items)
    train, valid = carve_valid(train_i.pairs, cfg.valid_fraction, cfg.seed,
                               validation_times(cfg.valid_split, train_i.times, str(train_i.path)))
    test = drop_users_without_train(train, test_i.pairs, n_users, "test", test_i.path, test_i.lines)
    name = Path(cfg.path).parent.name or Path(cfg.path).stem
    return Dataset(name, n_users, n_items, train, valid, test, user_ids=user_ids, item_ids=item_ids,
                   ratings=table)


def synthetic_rating_table(cfg: SyntheticConfig, seed: int) -> RatingTable:
    """Ratings 1..5 for every pair the synthetic generator draws with ``(cfg, seed)`` (module doc)."""
    pairs, truth = synthetic_interactions(cfg, seed)
    rng = np.random.default_rng([int(seed), 0x4A71])
    item_effect = 0.5 * rng.standard_normal(cfg.n_items)
    affinity = (truth["user_factors"][pairs[:, 0]] * truth["item_factors"][pairs[:, 1]]).sum(1)
    raw = 3.0 + 2.5 * affinity + item_effect[pairs[:, 1]] + 0.5 * rng.standard_normal(len(pairs))
    return RatingTable.from_pairs(pairs, np.clip(np.rint(raw), 1, 5), cfg.n_items)
