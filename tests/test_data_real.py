"""Real data sets under ../shared/data (skipped when absent): counts from their READMEs."""
from __future__ import annotations

import logging
import time

import pytest

from darts_gnn.config import DataConfig
from darts_gnn.data import BPRSampler, Graph, load_dataset, load_movielens, read_lightgcn


def need(path):
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


def disjoint(ds) -> bool:
    k = [set((p[:, 0] * ds.n_items + p[:, 1]).tolist()) for p in (ds.train, ds.valid, ds.test)]
    return not (k[0] & k[1] or k[0] & k[2] or k[1] & k[2])


def test_ml100k_udata(shared_data):
    p = need(shared_data / "ml-100k" / "u.data")
    inter = load_movielens(p)
    assert (len(inter), inter.n_users, inter.n_items) == (100_000, 943, 1682)
    assert len(load_movielens(p, min_rating=4)) == 55_375
    ds = load_dataset(DataConfig(source="movielens", path=str(p), split="temporal"))
    assert len(ds.train) + len(ds.valid) + len(ds.test) == 100_000 and disjoint(ds)
    assert len(ds.test) == 20_000          # every user has >= 20 ratings: exactly 20% each


def test_ml100k_split_2020(shared_data):
    d = need(shared_data / "ml-100k" / "split-2020")
    ds = load_dataset(DataConfig(source="lightgcn", path=str(d)))
    assert (ds.n_users, ds.n_items) == (943, 1682) and disjoint(ds)
    assert len(ds.train) + len(ds.valid) + len(ds.test) == 100_000


def test_lastfm_with_social_graph(shared_data, caplog):
    d = need(shared_data / "lastfm")
    cfg = DataConfig(source="lightgcn", path=str(d), social_path=str(d / "trustnetwork.txt"))
    with caplog.at_level(logging.INFO, logger="darts_gnn.data"):
        ds = load_dataset(cfg)
    assert (ds.n_users, ds.n_items) == (1892, 4489) and disjoint(ds)
    assert len(ds.train) + len(ds.valid) == 42_135
    assert len(ds.test) == 10_533 - 3      # 2 test users without training items: 3 pairs dropped
    assert "1-based" in caplog.text and "2 users have test interactions" in caplog.text
    assert len(ds.social) == 25_434 and ds.social.min() >= 0 and ds.social.max() < 1892
    g = Graph.from_dataset(ds)
    g0 = Graph.from_dataset(ds, social=False)
    assert g.num_edges > g0.num_edges


@pytest.mark.slow
def test_gowalla_loads_fast(shared_data):
    d = shared_data / "gowalla"
    need(d / "train.txt")
    t = time.perf_counter()
    ds = load_dataset(DataConfig(source="lightgcn", path=str(d)))
    g = Graph.from_dataset(ds)
    g.norm_adj()
    seconds = time.perf_counter() - t
    assert (ds.n_users, ds.n_items) == (29_858, 40_981)
    assert len(ds.train) + len(ds.valid) == 810_128 and len(ds.test) == 217_242
    assert g.num_edges == 2 * len(ds.train)
    assert seconds < 20, f"gowalla load + split + graph took {seconds:.1f} s"  # ~1 s on an idle 2-core box
    s = BPRSampler(ds, 2048, seed=0)
    u, p, n = next(iter(s))
    assert not s.is_positive(u.numpy(), n.numpy()).any()


def test_test_only_sets_read(shared_data):
    p = need(shared_data / "amazon-book" / "test.txt")
    inter = read_lightgcn(p)
    assert len(inter) == 603_378 and inter.n_users == 52_643
