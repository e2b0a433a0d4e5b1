"""The rating task: metrics and loss by hand, clipping, rated data loading, CLI, search, determinism."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from darts_gnn.cli import main
from darts_gnn.config import ModelConfig, TrainConfig, load_config
from darts_gnn.data import Dataset, Graph, load_dataset
from darts_gnn.data.dataset import DataError
from darts_gnn.data.ratings import RatingTable
from darts_gnn.nn.models import build_model
from darts_gnn.tasks import (RatingConfig, RatingHead, RatingSampler, RatingTask, TaskError, attach_head,
                             config_evaluator, rating_metrics, signed)
from darts_gnn.engine.trial import fit_and_evaluate
from helpers import set_args

RATED = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
         "data.synthetic.ratings=true", "task.name=rating", "train.epochs=3", "train.batch_size=128",
         "train.lr=0.01", "train.progress=false", "model.dim=8", "model.n_layers=1"]


def test_rmse_mae_by_hand_with_clipping():
    pred = torch.tensor([1.0, 2.0, 6.0, 0.0])       # 6 -> 5 and 0 -> 1 after clipping to [1, 5]
    truth = torch.tensor([1.0, 3.0, 5.0, 2.0])      # errors 0, -1, 0, -1
    m = rating_metrics(pred, truth, (1.0, 5.0))
    assert m["mse"] == pytest.approx(0.5) and m["rmse"] == pytest.approx(math.sqrt(0.5))
    assert m["mae"] == pytest.approx(0.5)
    unclipped = rating_metrics(pred, truth, (-100.0, 100.0))
    assert unclipped["mae"] == pytest.approx((0 + 1 + 1 + 2) / 4)


def test_head_formula_dot_and_bilinear():
    eu, ei = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]])
    users, items = torch.tensor([1]), torch.tensor([0])
    head = RatingHead(2, 3, 2, "dot", mean=3.5)
    with torch.no_grad():
        head.user_bias[1], head.item_bias[0] = 0.25, -0.5
    assert head(eu, ei, users, items).item() == pytest.approx(3.5 + 0.25 - 0.5 + (3 - 2))
    bil = RatingHead(2, 3, 2, "bilinear", mean=0.0)
    assert bil(eu, ei, users, items).item() == pytest.approx(1.0)   # W starts as the identity
    with torch.no_grad():
        bil.weight.copy_(torch.tensor([[0.0, 1.0], [2.0, 0.0]]))
    # eu W = [4, 1]; <[4, 1], [3, -1]> = 11
    assert bil(eu, ei, users, items).item() == pytest.approx(11.0)


def _rated_tiny():
    pairs = np.array([[0, 0], [0, 1], [1, 1], [1, 2], [2, 0], [2, 2], [0, 2], [1, 0]])
    ratings = np.array([5, 3, 4, 1, 2, 5, 4, 3], dtype=float)
    ds = Dataset("rt", 3, 3, pairs[:6], pairs[6:7], pairs[7:], ratings=RatingTable.from_pairs(pairs, ratings, 3))
    return ds, Graph.from_dataset(ds, "train")


def test_loss_is_the_mse_of_the_batch_plus_the_penalty():
    ds, graph = _rated_tiny()
    task = RatingTask(RatingConfig())
    model = build_model(ModelConfig(name="mf", dim=2), ds, graph)
    head = attach_head(task, model, ds)
    assert head.global_bias.item() == pytest.approx(np.mean([5, 3, 4, 1, 2, 5]))
    batch = (torch.tensor([0, 2]), torch.tensor([1, 2]), torch.tensor([3.0, 5.0]))
    u, i = model.embeddings()
    pred = (u[[0, 2]] * i[[1, 2]]).sum(1) + head.global_bias
    want = ((pred - torch.tensor([3.0, 5.0])) ** 2).mean()
    assert task.loss(model, head, batch, 0.0).item() == pytest.approx(want.item(), rel=1e-6)
    assert task.valid_loss(model, head, batch).item() == pytest.approx(want.item(), rel=1e-6)
    eu, ei = model.ego_embeddings()
    pen = 0.5 * (eu[[0, 2]].pow(2).sum() + ei[[1, 2]].pow(2).sum()) / 2
    assert task.loss(model, head, batch, 0.1).item() == pytest.approx((want + 0.1 * pen).item(), rel=1e-6)


def test_evaluator_clips_to_the_configured_scale():
    ds, graph = _rated_tiny()
    task = RatingTask(RatingConfig(scale=[1.0, 5.0]))
    model = build_model(ModelConfig(name="mf", dim=2), ds, graph)
    head = attach_head(task, model, ds)
    with torch.no_grad():
        model.user_emb.weight.zero_()
        head.global_bias.fill_(9.0)                    # every raw prediction 9 -> clipped to 5
    m = task.evaluator(ds, TrainConfig()).evaluate(model, "valid")   # the valid pair (0, 2) is rated 4
    assert m["rmse"] == pytest.approx(1.0) and m["mae"] == pytest.approx(1.0)


def test_sampler_batches_carry_the_ratings_of_their_pairs_and_repeat_per_seed():
    ds, _ = _rated_tiny()
    s = RatingSampler(ds, batch_size=4, seed=7)
    batches = list(s.epoch(0))
    users = torch.cat([b[0] for b in batches])
    items = torch.cat([b[1] for b in batches])
    got = {(int(u), int(i)): float(r) for u, i, r in zip(users, items, torch.cat([b[2] for b in batches]))}
    assert got == {(0, 0): 5.0, (0, 1): 3.0, (1, 1): 4.0, (1, 2): 1.0, (2, 0): 2.0, (2, 2): 5.0}
    again = list(RatingSampler(ds, batch_size=4, seed=7).epoch(0))
    assert all(torch.equal(a, b) for x, y in zip(batches, again) for a, b in zip(x, y))


def test_rating_table_refuses_missing_pairs_and_nan():
    t = RatingTable.from_pairs(np.array([[0, 1], [2, 0]]), np.array([4.0, 2.0]), 3)
    assert t.lookup(np.array([[2, 0], [0, 1]])).tolist() == [2.0, 4.0] and t.scale == (2.0, 4.0)
    with pytest.raises(DataError, match=r"pair \(user 1, item 1\) has no rating"):
        t.lookup(np.array([[1, 1]]))
    with pytest.raises(DataError, match="finite"):
        RatingTable.from_pairs(np.array([[0, 1]]), np.array([np.nan]), 3)


def test_given_train_and_test_files_share_one_id_space(tmp_path):
    (tmp_path / "u1.base").write_text("1\t10\t5\t1\n1\t20\t3\t2\n2\t10\t4\t3\n2\t30\t2\t4\n3\t20\t1\t5\n3\t10\t2\t6\n")
    (tmp_path / "u1.test").write_text("1\t30\t4\t7\n3\t40\t5\t8\n9\t10\t3\t9\n")
    cfg = load_config(None, ["data.source=movielens", f"data.path={tmp_path / 'u1.base'}", "data.split=given",
                             f"data.test_path={tmp_path / 'u1.test'}", "data.valid_fraction=0"]).data
    ds = load_dataset(cfg)
    assert ds.user_ids == ["1", "2", "3", "9"] and ds.item_ids == ["10", "20", "30", "40"]
    assert len(ds.train) == 6 and sorted(map(tuple, ds.test.tolist())) == [(0, 2), (2, 3)]  # user 9: no train
    assert ds.ratings.lookup(np.array([[0, 2], [2, 3], [1, 2]])).tolist() == [4.0, 5.0, 2.0]


def test_given_without_test_path_is_refused(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t5\t1\n")
    cfg = load_config(None, ["data.source=movielens", f"data.path={tmp_path / 'u.data'}", "data.split=given"]).data
    with pytest.raises(DataError, match="set data.test_path"):
        load_dataset(cfg)


def test_rating_on_data_without_ratings_is_exit_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--set", "task.name=rating", "--set", "train.epochs=1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no ratings" in err and "data.synthetic.ratings: true" in err and len(err.splitlines()) == 1
    assert not out.exists()
    ds = Dataset("plain", 2, 2, [[0, 0]], [[1, 1]], [[0, 1]])
    with pytest.raises(TaskError):
        config_evaluator(load_config(None, ["task.name=rating"]), ds)


def test_train_and_evaluate_on_rated_synthetic_data(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *set_args(RATED), "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"rmse", "mae", "mse"} <= set(metrics) and "rmse" in metrics["best_valid"]
    assert 0 < metrics["mae"] <= metrics["rmse"] < 4
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["rmse"] == pytest.approx(metrics["rmse"], abs=1e-9)
    events = [p for p in run.iterdir() if p.name.startswith("events.out.tfevents")]
    assert events and b"valid/rmse" in events[0].read_bytes() and b"test/rmse" in events[0].read_bytes()


def _rated_synthetic(extra=()):
    cfg = load_config(None, [*RATED, *extra])
    ds = load_dataset(cfg.data)
    return cfg, ds, Graph.from_dataset(ds, "train")


def test_same_seed_same_result():
    cfg, ds, graph = _rated_synthetic()
    ev = config_evaluator(cfg, ds)
    task = ev.task
    runs = [fit_and_evaluate(lambda: build_model(cfg.model, ds, graph), ds, cfg.train, ev, graph=graph,
                             splits=("valid", "test"), task=task) for _ in range(2)]
    assert runs[0].metrics == runs[1].metrics
    assert [r["loss"] for r in runs[0].train.history] == [r["loss"] for r in runs[1].train.history]


def test_early_stopping_keeps_the_lowest_validation_rmse():
    cfg, ds, graph = _rated_synthetic(["train.epochs=6", "train.lr=0.05"])
    out = fit_and_evaluate(lambda: build_model(cfg.model, ds, graph), ds, cfg.train, graph=graph,
                           splits=("valid",), task=RatingTask(cfg.task))
    seen = [r["valid/rmse"] for r in out.train.history if "valid/rmse" in r]
    assert out.train.monitor == "rmse" and out.metrics["valid"]["rmse"] == min(seen)
    assert out.train.best_epoch == 1 + seen.index(min(seen))


def test_tiny_darts_search_with_the_rating_task(tmp_path):
    run = tmp_path / "search"
    argv = ["search", *set_args([*RATED, "search.epochs=2", "search.warmup_epochs=1", "search.n_layers=1",
                                 "search.select_pool=2", "search.select_samples=4", "search.select_recipe_top=0",
                                 "search.batch_size=256", "search.eval_every=1"]), "--out", str(run)]
    assert main(argv) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert "rmse" in metrics and "mae" in metrics
    sel = metrics["selection"]["selection"]
    assert sel["metric"] == "rmse"
    best = min(c["valid"]["rmse"] for c in sel["candidates"])
    winner = [c for c in sel["candidates"] if c["valid"]["rmse"] == best][0]
    assert winner["genotype"] in metrics["model"]
    # the baseline point gets the default recipe grid, but only its BPR part: the task owns its loss
    assert not any("softmax" in c["genotype"] for c in sel["candidates"])
    history = json.loads((run / "search.json").read_text())["history"]
    assert all("valid/rmse" in r and "loss/train" in r for r in history)


def test_random_search_ranks_by_lowest_rmse():
    from darts_gnn.search.strategy import SearchContext, run_strategy
    cfg, ds, graph = _rated_synthetic(["search.strategy=random", "search.random.samples=3",
                                       "search.random.child_epochs=1", "search.n_layers=1"])
    ctx = SearchContext.from_config(cfg, ds, graph)
    found = run_strategy(ctx)
    rmses = {r["summary"]: r["valid"]["rmse"] for r in found.history}
    assert all(r["score"] == signed(ctx.evaluator, r["valid"]["rmse"]) == -r["valid"]["rmse"] for r in found.history)
    assert found.genotype.summary() == min(rmses, key=rmses.get)


def test_ml100k_u1_loads_with_ratings(shared_data: Path):
    base = shared_data / "ml-100k" / "u1.base"
    if not base.is_file():
        pytest.skip("ml-100k not available")
    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / "ml100k_rating.yaml",
                      [f"data.path={base}", f"data.test_path={base.with_name('u1.test')}"])
    ds = load_dataset(cfg.data)
    assert (ds.n_users, ds.n_items, len(ds.train) + len(ds.valid), len(ds.test)) == (943, 1682, 80000, 20000)
    assert ds.ratings.scale == (1.0, 5.0) and ds.ratings.lookup(ds.test).mean() == pytest.approx(3.5359, abs=1e-4)


def test_darts_searches_the_decoder_and_later_models_use_its_choice():
    from darts_gnn.pipeline import run_search
    cfg, ds, graph = _rated_synthetic(["task.decoder=search", "search.epochs=3", "search.warmup_epochs=1",
                                       "search.n_layers=1", "search.arch_lr=0.3", "search.select=false"])
    report = run_search(cfg, dataset=ds, graph=graph)
    head = report.supernet.task_head
    assert head.decoder == "search" and head.alpha.abs().sum() > 0          # β was trained (validation MSE)
    chosen = report.metrics["task"]["decoder"]
    assert chosen == head.derived() and chosen in ("dot", "bilinear")
    assert report.model.task_head.decoder == chosen and "rmse" in report.test
    assert all(p is not head.alpha for p in report.supernet.parameters())   # α-like, not a weight


def test_decoder_search_is_a_config_choice():
    assert load_config(None, ["task.name=rating", "task.decoder=search"]).task.decoder == "search"
    task = RatingTask(RatingConfig(decoder="search"))
    assert task.decoder() == "dot"                    # outside a search, before any: the plain dot
    task.begin_search()
    assert task.decoder() == "search"


def test_bilinear_form_is_shrunk_towards_the_dot_product():
    ds, graph = _rated_tiny()
    task = RatingTask(RatingConfig(decoder="bilinear"))
    model = build_model(ModelConfig(name="mf", dim=2), ds, graph)
    head = attach_head(task, model, ds)
    batch = (torch.tensor([0]), torch.tensor([1]), torch.tensor([3.0]))
    base = task.loss(model, head, batch, 0.1).item()        # W = I: no shrinkage term
    with torch.no_grad():
        head.weight[0, 1] = 2.0                              # |W - I|² = 4
    moved = task.loss(model, head, batch, 0.1).item() - task.loss(model, head, batch, 0.0).item()
    with torch.no_grad():
        head.weight[0, 1] = 0.0
    assert moved - (base - task.loss(model, head, batch, 0.0).item()) == pytest.approx(0.1 * 0.5 * 4, rel=1e-5)
