r"""Per-user splits of interaction pairs: random holdout, temporal leave-last-out, validation carve.

All functions are vectorised: interactions are grouped by user with one ``lexsort`` and each
interaction gets its rank inside its user's group; no Python loop runs per user.

How many of a user's ``n`` interactions are held out, for a fraction ``f`` (see :func:`holdout_counts`):

.. math::  h(n) = 0 \text{ if } n \le 1 \text{ or } f = 0, \quad
           h(n) = \min(n - 1, \max(1, \operatorname{round}(f n))) \text{ otherwise,}

so every user keeps at least one interaction on the training side, and every user with two or more
interactions gets at least one held-out interaction. ``round`` is numpy's round-half-to-even.

Returned arrays keep the input order of the rows they select (stable), so results do not depend on
how the groups were sorted internally.
"""
from __future__ import annotations

import logging

import numpy as np

from ..errors import DataError

__all__ = ["holdout_counts", "random_split", "temporal_split", "carve_valid", "user_ranks",
           "drop_users_without_train", "validation_times"]

log = logging.getLogger("darts_gnn.data")


def _pairs(pairs) -> np.ndarray:
    arr = np.asarray(pairs, dtype=np.int64)
    return arr.reshape(0, 2) if arr.size == 0 else arr


def holdout_counts(n: np.ndarray, fraction: float) -> np.ndarray:
    """Number of held-out interactions per user, ``h(n)`` above; int64, same shape as ``n``."""
    n = np.asarray(n, dtype=np.int64)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}")
    if fraction == 0.0:
        return np.zeros_like(n)
    h = np.clip(np.rint(fraction * n).astype(np.int64), 1, None)
    return np.where(n >= 2, np.minimum(h, n - 1), 0)


def user_ranks(users: np.ndarray, sort_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank of every interaction within its user, ordered by ``sort_key`` (ties: input order).

    Returns ``(rank [n], count [n])``: ``rank[k]`` in ``0..count[k]-1`` and ``count[k]`` the number
    of interactions of ``users[k]``.
    """
    users = np.asarray(users, dtype=np.int64)
    n = len(users)
    order = np.lexsort((np.arange(n), sort_key, users))
    su = users[order]
    starts = np.flatnonzero(np.r_[True, su[1:] != su[:-1]]) if n else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, n])
    group_start = np.repeat(starts, sizes)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start
    count = np.empty(n, dtype=np.int64)
    count[order] = np.repeat(sizes, sizes)
    return rank, count


def _split_by_rank(pairs: np.ndarray, rank: np.ndarray, count: np.ndarray, fraction: float,
                   last: bool, index: bool = False):
    h = holdout_counts(count, fraction)
    held = rank >= count - h if last else rank < h
    if index:
        return pairs[~held], pairs[held], np.flatnonzero(~held)
    return pairs[~held], pairs[held]


def random_split(pairs: np.ndarray, test_fraction: float, seed: int, index: bool = False):
    """Per-user random holdout: ``(train [n - t, 2], test [t, 2])``.

    Each user with ``n`` interactions gives ``h(n)`` uniformly chosen ones to the test side
    (seeded by ``seed``); users with one interaction keep it in train. ``index=True`` also returns
    the input rows of ``train`` (int64 ``[n - t]``), e.g. to carry their timestamps along.
    """
    pairs = _pairs(pairs)
    rng = np.random.default_rng(seed)
    rank, count = user_ranks(pairs[:, 0], rng.random(len(pairs)))
    return _split_by_rank(pairs, rank, count, test_fraction, last=False, index=index)


def temporal_split(pairs: np.ndarray, times: np.ndarray, test_fraction: float, index: bool = False):
    """Per-user temporal leave-last-out: each user's latest ``h(n)`` interactions go to test.

    ``times`` float ``[n]``; ties in time are broken by input (file) order, later rows counting as
    later. Deterministic, no seed. ``index=True`` also returns the input rows of ``train``.
    """
    pairs = _pairs(pairs)
    times = np.asarray(times, dtype=np.float64)
    if times.shape != (len(pairs),):
        raise ValueError(f"times: expected shape ({len(pairs)},), got {times.shape}")
    rank, count = user_ranks(pairs[:, 0], times)
    return _split_by_rank(pairs, rank, count, test_fraction, last=True, index=index)


def carve_valid(train: np.ndarray, valid_fraction: float, seed: int, times: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation set out of each user's training pairs: ``(train', valid)``.

    Per-user random holdout of ``h(n)`` pairs with the fraction ``valid_fraction`` (seeded; the
    stream differs from :func:`random_split`'s for the same seed). With ``times`` (float ``[n]``, one
    per training pair) the holdout is temporal instead: each user's latest ``h(n)`` training pairs,
    as :func:`temporal_split` picks them (``seed`` unused), so that model selection on validation
    faces the same forecasting task as a temporal test set. A user keeps at least one
    training pair; a user with a single training pair gives no validation pair.
    ``valid_fraction = 0`` returns ``(train, empty)``.
    """
    train = _pairs(train)
    if valid_fraction == 0.0:
        return train, train[:0]
    if times is not None:
        return temporal_split(train, times, valid_fraction)
    rng = np.random.default_rng([int(seed), 0x5A11D])
    rank, count = user_ranks(train[:, 0], rng.random(len(train)))
    return _split_by_rank(train, rank, count, valid_fraction, last=False)


def validation_times(valid_split: str, times: np.ndarray | None, where: str) -> np.ndarray | None:
    """The ``times`` argument of :func:`carve_valid` for ``data.valid_split``: the training pairs'
    timestamps when it is ``temporal``, else ``None``. Raises :class:`DataError` (naming ``where``)
    when it is temporal and the data have no timestamps."""
    if valid_split != "temporal":
        return None
    if times is None:
        raise DataError(f"{where}: data.valid_split 'temporal' needs timestamps, which these data do "
                        f"not have; use data.valid_split: random")
    return times


def drop_users_without_train(train: np.ndarray, other: np.ndarray, n_users: int, what: str,
                             source: str = "", lines: np.ndarray | None = None) -> np.ndarray:
    """Policy for users with no training interactions: their ``other`` (valid/test) pairs are dropped.

    Such a user cannot be personalised (a model has learnt nothing about them), so counting them in
    a metric only adds noise. The user keeps its id (the id space is unchanged). The number of
    users and pairs dropped is logged as a warning, naming the first such user (and its file line
    when ``lines`` is given).
    """
    has_train = np.bincount(train[:, 0], minlength=n_users) > 0
    orphan = ~has_train[other[:, 0]] if len(other) else np.zeros(0, dtype=bool)
    if orphan.any():
        k = int(np.flatnonzero(orphan)[0])
        where = f" at {source}:{int(lines[k])}" if lines is not None else ""
        log.warning("%s: %d users have %s interactions but no training interactions (first: user "
                    "%d%s); dropped their %d %s pairs", source or what,
                    len(np.unique(other[orphan, 0])), what, int(other[k, 0]), where,
                    int(orphan.sum()), what)
        return other[~orphan]
    return other
