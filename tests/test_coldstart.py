"""Cold-start items: the split holds items out entirely; metrics over the held-out items only."""
import numpy as np
import pytest
import torch

from darts_gnn.config import SyntheticConfig
from darts_gnn.data import Dataset, make_synthetic
from darts_gnn.engine.coldstart import (ColdStartEvaluator, WarmNegativeSampler, chance_recall, cold_item_split,
                                      content_knn_scores, popularity_scores)


@pytest.fixture(scope="module")
def ds():
    return make_synthetic(SyntheticConfig(n_users=50, n_items=60, interactions_per_user=8, n_communities=3), seed=2)


def test_cold_items_vanish_from_every_warm_split(ds):
    s = cold_item_split(ds, 0.2, seed=0)
    seen = np.unique(np.concatenate([ds.train, ds.valid, ds.test])[:, 1])
    assert len(s.cold_items) == round(0.2 * len(seen))
    for split in ("train", "valid", "test"):
        assert not np.isin(s.warm.split(split)[:, 1], s.cold_items).any()
    every = np.concatenate([ds.train, ds.valid, ds.test])
    assert len(s.cold) == np.isin(every[:, 1], s.cold_items).sum()
    assert len(s.cold) + sum(len(s.warm.split(x)) for x in ("train", "valid", "test")) == len(every)
    assert s.warm.n_items == ds.n_items
    again = cold_item_split(ds, 0.2, seed=0)
    assert np.array_equal(again.cold_items, s.cold_items)
    assert not np.array_equal(cold_item_split(ds, 0.2, seed=1).cold_items, s.cold_items)
    with pytest.raises(ValueError, match="fraction must be in"):
        cold_item_split(ds, 1.0)


def _tiny():
    train = np.array([[0, 0], [0, 1], [1, 1], [1, 2], [2, 0]])
    test = np.array([[0, 3], [0, 4], [1, 5], [2, 4], [2, 2]])
    return Dataset("tiny", 3, 6, train, np.zeros((0, 2)), test)


def test_evaluator_ranks_cold_items_only():
    s = cold_item_split(_tiny(), 0.5, seed=0)
    cold = s.cold_items.tolist()
    ev = ColdStartEvaluator(s, ks=(1, 2))
    truth = {u: set(s.cold[s.cold[:, 0] == u, 1].tolist()) for u in range(3)}
    users = [u for u in range(3) if truth[u]]

    def oracle(us):   # every user's cold items first
        return torch.tensor([[1.0 if c in truth[int(u)] else 0.0 for c in cold] for u in us])
    m = ev.evaluate_scores(oracle)
    exp_r1 = np.mean([1 / len(truth[u]) for u in users])
    assert m["recall@1"] == pytest.approx(exp_r1) and m["ndcg@1"] == pytest.approx(1.0)
    assert m["recall@2"] == pytest.approx(np.mean([min(2, len(truth[u])) / len(truth[u]) for u in users]))
    worst = ev.evaluate_scores(lambda us: -oracle(us))
    assert worst["recall@1"] < m["recall@1"]
    assert chance_recall(s, 1) == pytest.approx(1 / len(cold))


def test_random_and_popularity_are_at_chance(ds):
    s = cold_item_split(ds, 0.3, seed=0)
    ev = ColdStartEvaluator(s, ks=(5,))
    torch.manual_seed(0)
    rand = np.mean([ev.evaluate_scores(lambda us: torch.rand(len(us), len(s.cold_items)))["recall@5"]
                    for _ in range(20)])
    assert rand == pytest.approx(chance_recall(s, 5), rel=0.25)
    pop = ev.evaluate_scores(popularity_scores(s.warm, ev.cold_items, seed=0))
    assert pop["recall@5"] < 3 * chance_recall(s, 5)


def test_content_knn_finds_cold_items_of_the_users_taste():
    # 4 groups of 10 items; each user interacts with items of one group only; features = the group
    rng = np.random.default_rng(0)
    pairs = [(u, g * 10 + i) for u in range(40) for g in [u % 4] for i in rng.choice(10, 6, replace=False)]
    pairs = np.array(pairs)
    d = Dataset("groups", 40, 40, pairs, np.zeros((0, 2)), np.zeros((0, 2)))
    s = cold_item_split(d, 0.25, seed=0)
    x = torch.nn.functional.one_hot(torch.arange(40) // 10, 4).float()
    ev = ColdStartEvaluator(s, ks=(3,))
    f = content_knn_scores(s.warm, x, ev.cold_items)
    users = torch.arange(40)
    same_group = (ev.cold_items[None, :] // 10) == (users[:, None] % 4)
    assert torch.allclose(f(users), same_group.float(), atol=1e-6)   # cosine 1 in the group, 0 outside
    knn = ev.evaluate_scores(f)
    assert knn["recall@3"] > 2 * chance_recall(s, 3)


def test_content_knn_is_the_mean_cosine_to_the_training_items():
    d = _tiny()
    s = cold_item_split(d, 0.5, seed=0)
    x = torch.randn(6, 4)
    cand = torch.tensor(s.cold_items)
    f = content_knn_scores(s.warm, x, cand)
    xn = torch.nn.functional.normalize(x, dim=1)
    for u in range(3):
        mine = s.warm.train[s.warm.train[:, 0] == u, 1]
        if len(mine):
            want = (xn[cand] @ xn[torch.tensor(mine)].T).mean(1)
            assert torch.allclose(f(torch.tensor([u]))[0], want, atol=1e-6)


def test_warm_sampler_never_draws_a_cold_item(ds):
    s = cold_item_split(ds, 0.25, seed=3)
    sampler = WarmNegativeSampler(s, batch_size=64, seed=0)
    negs = torch.cat([n for _, _, n in sampler.epoch(0)]).numpy()
    assert not np.isin(negs, s.cold_items).any()
    assert len(np.unique(negs)) > 0.5 * (ds.n_items - len(s.cold_items))
    again = torch.cat([n for _, _, n in sampler.epoch(0)]).numpy()
    assert np.array_equal(negs, again)
