"""Splits: per-user random holdout, temporal leave-last-out, validation carve; leak-free data sets."""
from __future__ import annotations

import numpy as np
import pytest

from darts_gnn.config import DataConfig
from darts_gnn.data import (carve_valid, holdout_counts, load_dataset, make_synthetic, random_split,
                            temporal_split, user_ranks)


def keys(pairs: np.ndarray) -> set[tuple[int, int]]:
    return set(map(tuple, np.asarray(pairs).tolist()))


def random_pairs(n_users=50, n_items=40, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n_users):
        k = int(rng.integers(1, 15))
        out += [[u, i] for i in rng.choice(n_items, size=k, replace=False)]
    return np.asarray(out)[rng.permutation(len(out))]


def test_holdout_counts():
    n = np.array([0, 1, 2, 3, 5, 10, 11, 100])
    assert holdout_counts(n, 0.2).tolist() == [0, 0, 1, 1, 1, 2, 2, 20]
    assert holdout_counts(n, 0.5).tolist() == [0, 0, 1, 2, 2, 5, 6, 50]    # round half to even
    assert holdout_counts(n, 0.95).tolist() == [0, 0, 1, 2, 4, 9, 10, 95]  # keeps one on train
    assert holdout_counts(n, 0.0).tolist() == [0] * 8
    with pytest.raises(ValueError):
        holdout_counts(n, 1.0)


def test_user_ranks_break_ties_by_input_order():
    users = np.array([1, 0, 1, 1, 0])
    key = np.array([0.5, 0.1, 0.5, 0.2, 0.1])
    rank, count = user_ranks(users, key)
    assert rank.tolist() == [1, 0, 2, 0, 1]
    assert count.tolist() == [3, 2, 3, 3, 2]


def test_random_split_is_per_user_disjoint_and_seeded():
    pairs = random_pairs()
    train, test = random_split(pairs, 0.2, seed=3)
    assert keys(train) | keys(test) == keys(pairs) and not keys(train) & keys(test)
    n = np.bincount(pairs[:, 0])
    assert np.bincount(test[:, 0], minlength=len(n)).tolist() == holdout_counts(n, 0.2).tolist()
    assert (np.bincount(train[:, 0], minlength=len(n)) >= 1).all()
    # the same seed gives the same split; another seed another one; input order is kept
    t2, s2 = random_split(pairs, 0.2, seed=3)
    assert np.array_equal(train, t2) and np.array_equal(test, s2)
    assert keys(random_split(pairs, 0.2, seed=4)[1]) != keys(test)
    pos = {k: j for j, k in enumerate(map(tuple, pairs.tolist()))}
    assert [pos[k] for k in map(tuple, test.tolist())] == sorted(pos[k] for k in map(tuple, test.tolist()))


def test_temporal_split_takes_each_users_latest():
    pairs = np.array([[0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [1, 5], [1, 6], [2, 7], [0, 8], [1, 9]])
    times = np.array([5., 1., 9., 3., 7., 2., 2., 4., 8., 0.])
    train, test = temporal_split(pairs, times, 0.4)
    # user 0: 6 items, h = round(2.4) = 2 -> times 9 (item 2) and 8 (item 8);
    # user 1: 3 items, h = 1 -> the latest, a tie at t=2 between items 5 and 6: the later row (6) wins
    # user 2: 1 item -> stays in train
    assert keys(test) == {(0, 2), (0, 8), (1, 6)}
    assert keys(train) == keys(pairs) - keys(test)
    for u in np.unique(test[:, 0]):
        t_test = times[[tuple(p) in keys(test) and p[0] == u for p in pairs.tolist()]]
        t_train = times[[tuple(p) in keys(train) and p[0] == u for p in pairs.tolist()]]
        assert t_test.min() >= t_train.max()
    with pytest.raises(ValueError, match="times"):
        temporal_split(pairs, times[:-1], 0.2)


def test_carve_valid_keeps_a_training_item_per_user():
    pairs = random_pairs(seed=1)
    train, valid = carve_valid(pairs, 0.3, seed=0)
    assert keys(train) | keys(valid) == keys(pairs) and not keys(train) & keys(valid)
    n = np.bincount(pairs[:, 0])
    nv = np.bincount(valid[:, 0], minlength=len(n))
    assert (np.bincount(train[:, 0], minlength=len(n)) >= 1).all()
    assert (nv[n == 1] == 0).all() and (nv[n >= 2] >= 1).all()
    # the valid stream is not the test stream: the same seed must not pick the same positions
    assert not np.array_equal(carve_valid(pairs, 0.3, 5)[1], random_split(pairs, 0.3, 5)[1])
    t0, v0 = carve_valid(pairs, 0.0, seed=0)
    assert np.array_equal(t0, pairs) and v0.shape == (0, 2)


@pytest.mark.parametrize("split", ["random", "temporal"])
def test_loaded_dataset_is_leak_free(tmp_path, split):
    rng = np.random.default_rng(0)
    lines = ["user\titem\trating\ttime"]
    for u in range(30):
        for i in rng.choice(60, size=int(rng.integers(1, 20)), replace=False):
            lines.append(f"u{u}\ti{i}\t{rng.integers(1, 6)}\t{rng.integers(0, 10**6)}")
    p = tmp_path / "r.tsv"
    p.write_text("\n".join(lines) + "\n")
    ds = load_dataset(DataConfig(source="csv", path=str(p), rating_col="rating", time_col="time",
                                 split=split, test_fraction=0.25, valid_fraction=0.2, seed=7))
    tr, va, te = keys(ds.train), keys(ds.valid), keys(ds.test)
    assert not tr & va and not tr & te and not va & te
    assert len(tr) + len(va) + len(te) == len(lines) - 1
    users_with_data = np.unique(np.concatenate([ds.train, ds.valid, ds.test])[:, 0])
    assert set(np.unique(ds.train[:, 0])) == set(users_with_data)


def test_synthetic_splits_are_leak_free():
    ds = make_synthetic(seed=11)
    tr, va, te = keys(ds.train), keys(ds.valid), keys(ds.test)
    assert not tr & va and not tr & te and not va & te
    assert (np.bincount(ds.train[:, 0], minlength=ds.n_users) >= 1).all()
    total = len(tr) + len(va) + len(te)
    assert 0.15 < len(te) / total < 0.25 and 0.05 < len(va) / total < 0.12
