"""BPRSampler: negatives are never positives, one pass covers every pair, seeded and resumable."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from darts_gnn.data import BPRSampler, DataError, Dataset, make_synthetic


@pytest.fixture(scope="module")
def synth() -> Dataset:
    return make_synthetic(seed=0)


def collect(batches):
    u, p, n = zip(*batches)
    return torch.cat(u).numpy(), torch.cat(p).numpy(), torch.cat(n).numpy()


def test_epoch_covers_every_pair_once_with_valid_negatives(synth):
    s = BPRSampler(synth, batch_size=1000, seed=1)
    batches = list(s.epoch(0))
    assert len(batches) == len(s) == -(-len(synth.train) // 1000)
    for u, p, n in batches:
        assert u.dtype == p.dtype == n.dtype == torch.int64 and u.shape == p.shape == n.shape
        assert len(u) <= 1000
    u, p, n = collect(batches)
    assert sorted(zip(u.tolist(), p.tolist())) == sorted(map(tuple, synth.train.tolist()))
    train = set(map(tuple, synth.train.tolist()))
    assert not any((a, b) in train for a, b in zip(u.tolist(), n.tolist()))
    assert n.min() >= 0 and n.max() < synth.n_items


def test_dense_users_force_many_rejections():
    # user 0 has every item but one: its negative must be item 5, every time
    n_items = 6
    train = [[0, i] for i in range(5)] + [[1, 0], [2, 3]]
    ds = Dataset("dense", 3, n_items, train, [], [])
    s = BPRSampler(ds, batch_size=4, seed=0)
    for e in range(20):
        u, p, n = collect(s.epoch(e))
        assert (n[u == 0] == 5).all()
        assert not (n[u == 1] == 0).any() and not (n[u == 2] == 3).any()


def test_user_with_every_item_is_an_error():
    ds = Dataset("full", 2, 2, [[0, 0], [0, 1], [1, 0]], [], [])
    with pytest.raises(DataError, match="user 0 has interacted with all 2 items"):
        BPRSampler(ds, 2)


def test_determinism_and_resumability(synth):
    a = BPRSampler(synth, 512, seed=7)
    b = BPRSampler(synth, 512, seed=7)
    first = collect(a)               # iterating runs epoch 0 and advances
    second = collect(a)              # epoch 1
    assert a.epoch_index == 2
    for x, y in zip(first, collect(b.epoch(0))):
        assert np.array_equal(x, y)
    for x, y in zip(second, collect(b.epoch(1))):
        assert np.array_equal(x, y)
    assert not np.array_equal(first[0], second[0])
    other = collect(BPRSampler(synth, 512, seed=8).epoch(0))
    assert not np.array_equal(first[2], other[2])


def test_negatives_are_roughly_uniform(synth):
    s = BPRSampler(synth, 4096, seed=0)
    negs = np.concatenate([collect(s.epoch(e))[2] for e in range(10)])
    counts = np.bincount(negs, minlength=synth.n_items)
    # popularity-skewed positives, but negatives must not follow popularity
    assert counts.max() < 3 * counts.mean() and counts.min() > 0


def test_bad_arguments(synth):
    with pytest.raises(ValueError, match="batch_size"):
        BPRSampler(synth, 0)
    with pytest.raises(DataError, match="valid split is empty"):
        BPRSampler(Dataset("e", 1, 2, [[0, 0]], [], []), 4, split="valid")
