"""The synthetic generator: seeded, the configured sizes, community structure, power-law popularity."""
from __future__ import annotations

import time

import numpy as np

from darts_gnn.config import DataConfig, SyntheticConfig
from darts_gnn.data import load_dataset, make_synthetic, synthetic_interactions


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = make_synthetic(seed=5), make_synthetic(seed=5), make_synthetic(seed=6)
    for split in ("train", "valid", "test"):
        assert np.array_equal(a.split(split), b.split(split))
    assert not np.array_equal(a.train, c.train)


def test_default_sizes_and_speed():
    t = time.perf_counter()
    ds = load_dataset(DataConfig())
    assert time.perf_counter() - t < 2.0
    cfg = SyntheticConfig()
    assert (ds.n_users, ds.n_items) == (cfg.n_users, cfg.n_items)
    total = len(ds.train) + len(ds.valid) + len(ds.test)
    assert 0.8 * cfg.interactions_per_user < total / cfg.n_users < 1.2 * cfg.interactions_per_user
    per_user = np.bincount(ds.train[:, 0], minlength=ds.n_users)
    assert per_user.min() >= 1


def test_structure_communities_and_popularity():
    cfg = SyntheticConfig()
    pairs, truth = synthetic_interactions(cfg, seed=0)
    assert len(np.unique(pairs[:, 0] * cfg.n_items + pairs[:, 1])) == len(pairs)   # no duplicates
    same = truth["user_community"][pairs[:, 0]] == truth["item_community"][pairs[:, 1]]
    assert 0.55 < same.mean() < 0.9         # most interactions within the user's community (1/8 by chance)
    counts = np.sort(np.bincount(pairs[:, 1], minlength=cfg.n_items))[::-1]
    top = counts[: cfg.n_items // 10].sum() / counts.sum()
    assert top > 0.3                        # the top 10% items carry a heavy share
    np.testing.assert_allclose(truth["popularity"].sum(), 1.0)


def test_other_sizes():
    cfg = SyntheticConfig(n_users=50, n_items=30, n_communities=3, dim=4, interactions_per_user=5)
    ds = make_synthetic(cfg, seed=1, test_fraction=0.3, valid_fraction=0.0)
    assert ds.n_users == 50 and ds.n_items == 30 and len(ds.valid) == 0
    assert ds.train[:, 1].max() < 30
