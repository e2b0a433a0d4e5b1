"""Random search: per-choice uniform sampling, budgets, selection on validation only."""
import collections
import random

import pytest

from darts_gnn.config import SyntheticConfig, TrainConfig
from darts_gnn.data import Graph, make_synthetic
from darts_gnn.space.genotype import Genotype
from darts_gnn.search.random_search import random_search, sample_genotype, sample_genotypes
from darts_gnn.space.registry import SearchSpace


@pytest.fixture(scope="module")
def tiny():
    ds = make_synthetic(SyntheticConfig(n_users=80, n_items=120, n_communities=4, dim=8,
                                        interactions_per_user=12), seed=1)
    return ds, Graph.from_dataset(ds, "train")


def test_sampling_is_uniform_per_choice_and_in_space():
    space = SearchSpace(n_layers=2, aggregators=["gcn", "mean", "max"], widths=[8, 16])
    rng = random.Random(0)
    gs = [sample_genotype(space, rng) for _ in range(3000)]
    assert all(space.contains(g) for g in gs)
    depth = collections.Counter(g.depth for g in gs)
    assert set(depth) == {0, 1, 2} and all(900 < c < 1100 for c in depth.values())
    aggs = collections.Counter(l.aggregator for g in gs for l in g.layers)
    assert all(abs(c / sum(aggs.values()) - 1 / 3) < 0.04 for c in aggs.values())


def test_sample_genotypes_seeded_distinct_and_small_space():
    space = SearchSpace(n_layers=1, aggregators=["gcn", "mean"], transforms=["identity"], skips=["none"],
                        combines=["mean", "sum"], widths=[8])
    # depth 0 -> 1 architecture (combine irrelevant), depth 1 -> 2 aggs x 2 combines = 5 in total
    a = sample_genotypes(space, 5, seed=3)
    assert len(set(a)) == 5 and a == sample_genotypes(space, 5, seed=3)
    assert set(sample_genotypes(space, 5, seed=4)) == set(a)  # all five, in another order
    assert Genotype.mf(8) in a
    more = sample_genotypes(space, 7, seed=3)  # more than the space holds: duplicates allowed
    assert len(more) == 7 and len(set(more)) == 5


def test_random_search_epoch_budget_picks_best_valid_and_never_tests(tiny, evaluated_splits):
    ds, graph = tiny
    space = SearchSpace(n_layers=2, aggregators=["gcn", "mean"], transforms=["identity", "linear"],
                        widths=[8, 16])
    splits = evaluated_splits
    cfg = TrainConfig(epochs=50, batch_size=256, lr=0.01, progress=False)
    res = random_search(space, ds, graph, n_samples=3, budget_epochs=6, train_cfg=cfg, seed=0)
    assert set(splits) == {"valid"} and len(splits) == 3
    assert len(res.history) == 3 and all(t["epochs"] == 2 for t in res.history) and res.epochs == 6
    scores = [t["valid"]["recall@20"] for t in res.history]
    best = scores.index(max(scores))
    assert res.genotype.to_dict() == res.history[best]["genotype"] and res.candidates[0] == res.genotype
    assert [s for s in sorted(scores, reverse=True)] == \
        [res.history[[t["genotype"] for t in res.history].index(g.to_dict())]["valid"]["recall@20"]
         for g in res.candidates]
    assert space.contains(res.genotype) and res.seconds > 0
    d = res.to_dict()
    assert d["genotype"]["version"] == 1 and len(d["history"]) == 3 and len(d["candidates"]) == 3
    # same seed, same result
    res2 = random_search(space, ds, graph, n_samples=3, budget_epochs=6, train_cfg=cfg, seed=0)
    assert [t["valid"] for t in res2.history] == [t["valid"] for t in res.history]


def test_random_search_seconds_budget(tiny):
    ds, graph = tiny
    space = SearchSpace(n_layers=1, aggregators=["gcn", "sum"], transforms=["identity"], widths=[8])
    cfg = TrainConfig(epochs=3, batch_size=256, lr=0.01, progress=False)
    res = random_search(space, ds, graph, n_samples=2, budget_seconds=1e-6, train_cfg=cfg, seed=1)
    # a tiny share: each sample stops after its first epoch and is still validated
    assert all(t["epochs"] == 1 and "recall@20" in t["valid"] for t in res.history)
    assert res.epochs == 2


def test_random_search_argument_errors(tiny):
    ds, graph = tiny
    space = SearchSpace(n_layers=1)
    with pytest.raises(ValueError, match="exactly one"):
        random_search(space, ds, graph, 2)
    with pytest.raises(ValueError, match="exactly one"):
        random_search(space, ds, graph, 2, budget_epochs=2, budget_seconds=1.0)
    with pytest.raises(ValueError, match="n_samples"):
        random_search(space, ds, graph, 0, budget_epochs=2)
