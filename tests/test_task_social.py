"""The ``social`` task: friendship split, masking, CN / Adamic-Adar, sampler, prepare, real data."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from darts_gnn.config import ModelConfig, TrainConfig, load_config
from darts_gnn.data import Dataset, Graph
from darts_gnn.data.dataset import DataError
from darts_gnn.data.friend_sampler import FriendSampler
from darts_gnn.data.friends import FriendSplit, friend_csr, split_friendships, undirected_pairs
from darts_gnn.data.splits import holdout_counts
from darts_gnn.nn.models import build_model
from darts_gnn.tasks import TaskError, build_task
from darts_gnn.tasks.friend_metrics import FriendEvaluator
from darts_gnn.tasks.heuristics import adamic_adar, common_neighbours


def random_friends(n_users=60, n_pairs=400, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_users, size=(n_pairs, 2))


def as_set(pairs):
    return {tuple(p) for p in np.asarray(pairs).tolist()}


# ------------------------------------------------------------------ the split
def test_split_is_symmetric_disjoint_and_complete():
    raw = random_friends()
    und = undirected_pairs(np.concatenate([raw, raw[:, ::-1]]), 60)  # both directions given
    s = split_friendships(raw, 60, 0.2, 0.1, seed=3)
    parts = [as_set(s.train), as_set(s.valid), as_set(s.test)]
    assert all(u < v for p in parts for u, v in p)                 # stored once, undirected
    assert sum(map(len, parts)) == len(und) and set().union(*parts) == as_set(und)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    rowptr, cols = s.csr("test")                                   # the CSR holds both directions
    for u, v in list(parts[2])[:20]:
        assert v in cols[rowptr[u]:rowptr[u + 1]].tolist() and u in cols[rowptr[v]:rowptr[v + 1]].tolist()


def test_split_holds_out_at_most_a_fifth_per_user_and_keeps_a_train_friend():
    raw = random_friends(80, 900, seed=1)
    und = undirected_pairs(raw, 80)
    s = split_friendships(raw, 80, 0.2, 0.0, seed=0)
    deg = np.bincount(und.ravel(), minlength=80)
    held = np.bincount(s.test.ravel(), minlength=80)
    assert (held <= holdout_counts(deg, 0.2)).all()
    assert (np.bincount(s.train.ravel(), minlength=80)[deg > 0] >= 1).all()
    assert 0.15 <= len(s.test) / len(und) <= 0.2


def test_split_is_seeded():
    raw = random_friends()
    a, b, c = (split_friendships(raw, 60, seed=k) for k in (5, 5, 6))
    assert np.array_equal(a.test, b.test) and np.array_equal(a.valid, b.valid)
    assert not np.array_equal(a.test, c.test)


def test_split_refuses_bad_input():
    with pytest.raises(DataError, match="out of range"):
        split_friendships(np.array([[0, 9]]), 5)
    with pytest.raises(DataError, match="no user-user pair"):
        split_friendships(np.array([[1, 1]]), 5)


# ------------------------------------------------------------------ masking and metrics
class FixedScores:
    """A scorer with a fixed ``[U, U]`` score matrix."""

    def __init__(self, scores):
        self.scores = torch.as_tensor(scores, dtype=torch.float32)

    def score_users(self, users):
        return self.scores[users]


def tiny_split():
    # 5 users; user 0: train friends {1}, valid {2}, test {3}
    return FriendSplit(5, np.array([[0, 1], [3, 4]]), np.array([[0, 2]]), np.array([[0, 3]]))


def test_masking_excludes_the_user_and_its_known_friends():
    ev = FriendEvaluator(tiny_split(), ks=(1, 2))
    scores = FixedScores(np.arange(25).reshape(5, 5))  # every row prefers high ids
    m = ev.masked_scores(scores.score_users, torch.tensor([0]), "test")[0]
    assert torch.isinf(m[[0, 1, 2]]).all() and torch.isfinite(m[[3, 4]]).all()   # self, train, valid
    m = ev.masked_scores(scores.score_users, torch.tensor([0]), "valid")[0]
    assert torch.isinf(m[[0, 1]]).all() and torch.isfinite(m[[2, 3, 4]]).all()   # valid is the truth
    # test users 0 and 3. User 0 ranks {3, 4} (0, 1, 2 masked): 4 then 3, its friend 3 at rank 1.
    # User 3 ranks {0, 1, 2} (3 itself and train friend 4 masked): 2, 1, 0, friend 0 at rank 2.
    out = ev.evaluate(scores, "test")
    assert out["recall@1"] == 0.0 and out["recall@2"] == pytest.approx(0.5)
    assert out["ndcg@2"] == pytest.approx((1 / math.log2(3)) / 2)


def test_a_model_is_scored_by_user_embedding_dot_products():
    ds = Dataset("t", 5, 3, np.array([[0, 0], [1, 1], [2, 2], [3, 0], [4, 1]]), np.zeros((0, 2)),
                 np.zeros((0, 2)))
    model = build_model(ModelConfig(name="mf", dim=4), ds)
    with torch.no_grad():
        model.user_emb.weight.zero_()
        model.user_emb.weight[:, 0] = torch.tensor([1.0, 0.0, 0.0, 5.0, 9.0])
    ev = FriendEvaluator(tiny_split(), ks=(1,))
    # user 0 (test friend 3): 4 scores 9 > 3's 5 -> miss at K=1; user 3's best unmasked is 0 -> hit
    out = ev.evaluate(model, "test")
    assert out["recall@1"] == pytest.approx(0.5)


# ------------------------------------------------------------------ heuristics
def test_common_neighbours_and_adamic_adar_by_hand():
    # 0-1, 0-2, 1-2, 1-3, 2-3, 3-4: degrees 2, 3, 3, 3, 1
    pairs = np.array([[0, 1], [0, 2], [1, 2], [1, 3], [2, 3], [3, 4]])
    cn = common_neighbours(pairs, 5).score_users(torch.arange(5))
    aa = adamic_adar(pairs, 5).score_users(torch.arange(5))
    assert cn[0, 3] == 2 and cn[1, 2] == 2 and cn[0, 4] == 0 and cn[2, 4] == 1 and cn[1, 4] == 1
    assert torch.equal(cn, cn.t())
    l3 = 1 / math.log(3)
    assert aa[0, 3] == pytest.approx(2 * l3)          # via 1 and 2, both of degree 3
    assert aa[0, 1] == pytest.approx(l3)              # via 2
    assert aa[2, 4] == pytest.approx(l3)              # via 3
    assert aa[0, 4] == 0 and torch.allclose(aa, aa.t())


# ------------------------------------------------------------------ sampler
def test_friend_sampler_negatives_are_never_friends_or_self():
    s = split_friendships(random_friends(40, 300), 40, 0.2, 0.2, seed=0)
    known = as_set(np.concatenate([s.train, s.train[:, ::-1]]))
    batches = list(FriendSampler(s, 64, seed=1).epoch(0))
    users, pos, neg = (torch.cat([b[k] for b in batches]).numpy() for k in range(3))
    assert len(users) == 2 * len(s.train) and as_set(np.stack([users, pos], 1)) == known
    assert not (users == neg).any() and not any((u, w) in known for u, w in zip(users, neg))
    v = list(FriendSampler(s, 64, seed=1, split="valid").epoch(0))
    vu, vp, vn = (torch.cat([b[k] for b in v]).numpy() for k in range(3))
    vknown = known | as_set(np.concatenate([s.valid, s.valid[:, ::-1]]))
    assert as_set(np.stack([vu, vp], 1)) == as_set(np.concatenate([s.valid, s.valid[:, ::-1]]))
    assert not any((u, w) in vknown for u, w in zip(vu, vn)) and not (vu == vn).any()
    again = list(FriendSampler(s, 64, seed=1).epoch(0))
    assert all(torch.equal(a[2], b[2]) for a, b in zip(batches, again))


# ------------------------------------------------------------------ the task
def social_dataset(seed=0):
    from helpers import tiny
    ds, _ = tiny(seed, U=30, I=40, n=500)
    ds.social = random_friends(30, 150, seed)
    return ds


def test_prepare_keeps_held_out_friendships_out_of_the_graph():
    task = build_task(load_config(None, ["task.name=social"]).task)
    ds = social_dataset()
    prepared = task.prepare(ds)
    graph = Graph.from_dataset(prepared, "train")
    g_pairs = {(int(r), int(c)) for r, c in zip(graph.row, graph.col) if r < 30 and c < 30}
    for u, v in np.concatenate([prepared.friends.valid, prepared.friends.test]):
        assert (u, v) not in g_pairs and (v, u) not in g_pairs
    assert {(u, v) for u, v in g_pairs if u < v} == as_set(prepared.friends.train)
    assert task.prepare(prepared) is prepared


def test_loss_with_and_without_the_item_term_and_evaluation():
    ds = social_dataset()
    for weight, width in ((0.0, 3), (1.0, 6)):
        task = build_task(load_config(None, ["task.name=social", f"task.item_weight={weight}"]).task)
        prep = task.prepare(ds)
        model = build_model(ModelConfig(name="mf", dim=8), prep)  # no propagation: items get
        batch = next(iter(task.sampler(prep, 32, 0)))               # gradients from the item term only
        assert len(batch) == width
        loss = task.loss(model, None, batch, 1e-4)
        loss.backward()
        assert math.isfinite(loss.item()) and model.user_emb.weight.grad.abs().sum() > 0
        grad = model.item_emb.weight.grad
        assert (grad is not None and bool(grad.abs().sum() > 0)) == (weight > 0)
        vb = next(iter(task.valid_sampler(prep, 32, 0)))
        assert math.isfinite(task.valid_loss(model, None, vb).item())
        out = task.evaluator(prep, TrainConfig()).evaluate(model, "valid")
        assert 0.0 <= out[task.monitor] <= 1.0


def test_social_task_without_social_edges_is_a_task_error():
    from helpers import tiny
    ds, _ = tiny(0)
    task = build_task("social")
    with pytest.raises(TaskError, match="data.social_path"):
        task.prepare(ds)
    with pytest.raises(TaskError, match="not prepared"):
        task.evaluator(ds, TrainConfig())


@pytest.mark.parametrize("key,value", [("test_fraction", 1.5), ("valid_fraction", -0.1), ("item_weight", -1)])
def test_bad_task_keys_are_config_errors(key, value):
    from darts_gnn.config import ConfigError
    with pytest.raises(ConfigError, match=f"task.{key}"):
        load_config(None, ["task.name=social", f"task.{key}={value}"])


# ------------------------------------------------------------------ real data
def test_lastfm_trust_network_ids_are_one_based(shared_data, caplog):
    folder = shared_data / "lastfm"
    if not (folder / "trustnetwork.txt").is_file():
        pytest.skip("../shared/data/lastfm absent")
    from darts_gnn.data import load_dataset
    cfg = load_config(None, ["data.source=lightgcn", f"data.path={folder}",
                             f"data.social_path={folder / 'trustnetwork.txt'}", "task.name=social"])
    with caplog.at_level(logging.INFO, logger="darts_gnn.data"):
        ds = load_dataset(cfg.data)
    assert "taken as 1-based" in caplog.text
    assert ds.n_users == 1892 and ds.social.min() == 0 and ds.social.max() == 1891
    prep = build_task(cfg.task).prepare(ds)
    f = prep.friends
    assert len(f.train) + len(f.valid) + len(f.test) == 12717        # 25,434 directed = 12,717 pairs
    assert 0.19 <= len(f.test) / 12717 <= 0.2
    rowptr, _ = friend_csr(f.train, ds.n_users)
    assert int(rowptr[-1]) == 2 * len(f.train)


# ------------------------------------------------------------------ CLI
TINY_CLI = ["data.synthetic.n_users=40", "data.synthetic.n_items=50", "data.synthetic.interactions_per_user=10",
            "train.epochs=2", "train.eval_every=1", "train.batch_size=128", "train.progress=false",
            "model.dim=8", "model.n_layers=2", "task.name=social"]


def test_cli_social_without_a_social_file_exits_2(tmp_path, capsys):
    from darts_gnn.cli import main
    from helpers import set_args
    assert main(["train", *set_args(TINY_CLI), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.social_path" in err[0]
    assert not (tmp_path / "run").exists()


def test_cli_social_train_and_evaluate(tmp_path, capsys):
    import json
    from darts_gnn.cli import main
    from helpers import set_args
    social = tmp_path / "friends.txt"
    social.write_text("".join(f"{u} {v}\n" for u, v in random_friends(40, 200, 1)) + "0 1\n")
    run = tmp_path / "run"
    assert main(["train", *set_args(TINY_CLI + [f"data.social_path={social}"]), "--out", str(run)]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= m["recall@20"] <= 1.0 and "recall@20" in m["best_valid"]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["recall@20"] == pytest.approx(m["recall@20"])


def test_search_context_prepares_the_social_split_before_the_graph(tmp_path):
    """``compare`` and the strategies load data through SearchContext: no held-out friendship in the graph."""
    from darts_gnn.search.strategy import SearchContext
    social = tmp_path / "friends.txt"
    social.write_text("".join(f"{u} {v}\n" for u, v in random_friends(40, 200, 2)) + "0 1\n")
    cfg = load_config(None, TINY_CLI + [f"data.social_path={social}"])
    ctx = SearchContext.from_config(cfg)
    held = np.concatenate([ctx.dataset.friends.valid, ctx.dataset.friends.test])
    g = {(int(r), int(c)) for r, c in zip(ctx.graph.row, ctx.graph.col) if r < 40 and c < 40}
    assert len(held) and not any((u, v) in g for u, v in held)
    assert ctx.evaluator.task.name == "social"


@pytest.mark.parametrize("recipe_loss", ["bpr", "softmax"])
def test_recipe_trainer_trains_with_the_social_loss(recipe_loss):
    """The selection stage retrains with RecipeTrainer: with a task, the task's loss (6-tensor batches
    when item_weight > 0), whatever the recipe's objective."""
    from darts_gnn.search.recipe import Recipe, RecipeTrainer, recipe_train_config
    task = build_task(load_config(None, ["task.name=social", "task.item_weight=0.5"]).task)
    prep = task.prepare(social_dataset())
    model = build_model(ModelConfig(name="mf", dim=8), prep)
    recipe = Recipe(loss=recipe_loss, negatives=4, lr=0.01)
    cfg = recipe_train_config(TrainConfig(epochs=1, batch_size=64, progress=False), recipe)
    trainer = RecipeTrainer(model, prep, cfg, recipe=recipe, task=task)
    batch = next(iter(task.sampler(prep, 64, 0)))
    assert torch.allclose(trainer.loss(*batch), task.loss(model, None, batch, cfg.l2))
    assert math.isfinite(trainer.train_epoch(1))
