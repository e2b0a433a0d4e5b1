"""Issue 9 (session 3): the recipe grid with sampled softmax + cosine scores, the final retrain's
reserve in the selection budget, and the lr x L2 tuned baseline, all chosen on validation only."""
import time

import pytest

from darts_gnn.config import ConfigError, load_config
from darts_gnn.data import Graph, load_dataset
from darts_gnn.space.genotype import Genotype
from darts_gnn.tasks.metrics import Evaluator
from darts_gnn.search.recipe import Recipe
from darts_gnn.search.selection_budget import _Budget
from darts_gnn.search.select import (Candidate, default_grid, default_recipes, final_retrain_estimate,
                                     recipe_entry, select_genotype)
from darts_gnn.search.tune import BASELINE_GRID, baseline_grid, tune_baseline
from darts_gnn.space.registry import SpaceError

TINY = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
        "data.split=random", "train.epochs=3", "train.batch_size=256", "train.progress=false",
        "search.select_patience=1", "model.dim=16", "model.n_layers=2"]


@pytest.fixture(scope="module")
def data():
    cfg = load_config(None, TINY)
    ds = load_dataset(cfg.data)
    return cfg, ds, Graph.from_dataset(ds, "train"), Evaluator(ds, ks=(20,))


def test_default_grid_searches_the_objective_with_cosine_scores():
    grid = default_grid(5e-3, 1e-4)
    bpr = [(r, n) for r, n in grid if r.loss == "bpr"]
    soft = [(r, n) for r, n in grid if r.loss == "softmax"]
    assert [r.l2 for r, _ in bpr] == [None] and all(n is None for _, n in bpr)
    assert soft and all(n is True and r.negatives > 1 and r.temperature < 1 for r, n in soft)
    assert all(r.lr == 5e-3 for r, _ in grid)
    # the order a tight budget serves: BPR as trained, softmax (the named data sets' winner)
    assert [r.loss for r, _ in grid] == ["bpr", "softmax"]
    # L2 x10 (never a winner) is left to search.select_recipes
    assert [r.l2 for r in default_recipes(5e-3, 1e-4)] == [None, pytest.approx(1e-3)]


def test_recipe_entry_reads_norm_and_rejects_bad_entries():
    r, norm = recipe_entry({"loss": "softmax", "negatives": 8, "temperature": 0.2, "norm": True})
    assert r == Recipe(loss="softmax", negatives=8, temperature=0.2) and norm is True
    assert recipe_entry(Recipe(l2=1e-3)) == (Recipe(l2=1e-3), None)
    with pytest.raises(SpaceError, match="norm"):
        recipe_entry({"loss": "bpr", "norm": "yes"})
    with pytest.raises(SpaceError, match="unknown key"):
        recipe_entry({"los": "bpr"})
    with pytest.raises(SpaceError, match="mapping"):
        recipe_entry(3)


def test_config_validates_select_recipes_at_load():
    cfg = load_config(None, ['search.select_recipes=[{"loss": "softmax", "negatives": 4, "norm": true}]'])
    assert cfg.search.select_recipes[0]["norm"] is True
    with pytest.raises(ConfigError, match=r"search.select_recipes\[0\].*unknown key"):
        load_config(None, ['search.select_recipes=[{"temp": 0.1}]'])
    with pytest.raises(ConfigError, match=r"search.select_recipes\[1\].*temperature"):
        load_config(None, ['search.select_recipes=[{}, {"temperature": -1}]'])
    with pytest.raises(ConfigError, match="search.select_recipes"):
        load_config(None, ["search.select_recipes=[]"])


def test_selection_tries_softmax_cosine_and_picks_on_validation_only(data, evaluated_splits):
    cfg, ds, graph, ev = data
    pool = [Genotype.mf(16), Genotype.lightgcn(2, 16)]
    grid = [{"lr": 5e-3}, {"loss": "softmax", "negatives": 8, "temperature": 0.2, "norm": True}]
    res = select_genotype(pool, ds, graph, cfg, ev, recipes=grid)
    assert set(evaluated_splits) == {"valid"}                 # the test set never chooses
    recipe_stage = [c for c in res.candidates if c.stage == "recipe"]
    soft = [c for c in recipe_stage if c.genotype.recipe.loss == "softmax"]
    assert len(soft) == 1 and soft[0].genotype.norm is True and soft[0].genotype.recipe.lr == cfg.search.select_lr
    best = max(c.score("recall@20") for c in res.candidates)
    assert res.best.score("recall@20") == best and res.winner == res.best.genotype
    first_best = next(c for c in res.candidates if c.score("recall@20") == best)
    assert res.winner == first_best.genotype                  # ties: the earlier candidate
    assert res.reserve_seconds == 0.0                         # the final retrain is outside the budget by default
    import dataclasses
    cfg_f = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, budget_includes_final=True))
    res_f = select_genotype(pool[1:], ds, graph, cfg_f, ev, recipes=[])
    assert res_f.reserve_seconds > 0 and res_f.to_dict()["reserve_seconds"] == res_f.reserve_seconds


def test_final_retrain_estimate_uses_measured_epochs():
    assert final_retrain_estimate(10.0, 20) == pytest.approx(10.0)
    assert final_retrain_estimate(10.0, 20, extra_epochs=25) == pytest.approx(22.5)
    assert final_retrain_estimate(10.0, 20, extra_epochs=25, max_epochs=30) == pytest.approx(15.0)
    assert final_retrain_estimate(10.0, 20, extra_epochs=-5) == pytest.approx(10.0)


def _cand(seconds, epochs, score):
    return Candidate(Genotype.mf(8), {"recall@20": score}, seconds, epochs)


def test_budget_reserve_follows_the_best_candidate_not_three_means():
    b = _Budget(100.0, extra_epochs=10, max_epochs=400)
    assert b.allows()                                         # the first run always starts
    b.record(30.0, _cand(30.0, 30, 0.2))                      # reserve: 1 s/epoch x 40 epochs
    assert b.reserve == pytest.approx(40.0)
    b.t0 = time.perf_counter() - 20.0                         # 20 s elapsed: 20 + 30 + 40 <= 100
    assert b.allows()                                         # the old 3x-mean rule (20 + 90) said no
    b.t0 = time.perf_counter() - 35.0                         # 35 + 30 + 40 > 100
    assert not b.allows()
    b.record(10.0, _cand(30.0, 30, 0.2))                      # same best: same reserve, mean 20 s
    assert b.reserve == pytest.approx(40.0) and b.allows()    # 35 + 20 + 40 <= 100
    b.record(10.0, _cand(10.0, 5, 0.3))                       # a new best: 2 s/epoch x 15 epochs
    assert b.reserve == pytest.approx(30.0)
    assert _Budget(None).allows()


def test_tuned_baseline_grid_and_choice(data, evaluated_splits):
    cfg, ds, graph, ev = data
    assert len(baseline_grid()) == len(BASELINE_GRID) and (1e-3, 1e-4) in BASELINE_GRID
    grid = [Recipe(lr=5e-3), Recipe(lr=5e-3, l2=1e-3), Recipe(lr=1e-3)]
    res = tune_baseline(cfg, ds, graph, ev, None, grid=grid)
    assert set(evaluated_splits) == {"valid"}
    assert [c.genotype.recipe for c in res.candidates] == grid
    assert all(c.genotype.with_(recipe=None) == Genotype.lightgcn(2, 16) for c in res.candidates)
    assert res.winner == res.best.genotype
    assert res.best.score("recall@20") == max(c.score("recall@20") for c in res.candidates)
    tight = tune_baseline(cfg, ds, graph, ev, 1e-9, grid=grid)
    assert len(tight.candidates) == 1 and tight.skipped == 2
    with pytest.raises(ValueError, match="model.name"):
        tune_baseline(load_config(None, TINY + ["model.name=ngcf"]), ds, graph, ev, None)
    with pytest.raises(SpaceError):
        baseline_grid([(2.0, 1e-4)])


def test_short_train_proxy_scores_and_spearman(data, evaluated_splits):
    import math

    from darts_gnn.search.proxy import proxy_spearman, short_train_scores
    cfg, ds, graph, ev = data
    pool = [Genotype.mf(16), Genotype.lightgcn(1, 16), Genotype.lightgcn(2, 16)]
    scores = short_train_scores(pool, ds, graph, cfg.train, ev, epochs=(2, 1))
    assert sorted(scores) == [1, 2] and all(set(s) == set(pool) for s in scores.values())
    assert set(evaluated_splits) == {"valid"}
    assert scores == short_train_scores(pool, ds, graph, cfg.train, ev, epochs=(1, 2))   # same seed, same scores
    retrained = {g: float(i) for i, g in enumerate(pool)}
    rho = proxy_spearman(scores[2], retrained)
    assert -1.0 <= rho <= 1.0 or math.isnan(rho)
    assert proxy_spearman(retrained, retrained) == pytest.approx(1.0)
    assert proxy_spearman({pool[0]: 1.0, pool[1]: 2.0}, {pool[0]: 3.0, pool[1]: 1.0, pool[2]: 0.0}) == pytest.approx(-1.0)
    assert math.isnan(proxy_spearman({pool[0]: 1.0}, retrained))
    with pytest.raises(ValueError, match="positive"):
        short_train_scores(pool, ds, graph, cfg.train, ev, epochs=(0,))


def test_shared_negatives_mask_accidental_positives():
    import torch

    from darts_gnn.search.recipe import RecipeTrainer, recipe_train_config
    from tests.helpers import tiny
    ds, graph = tiny()
    cfg = load_config(None, ["train.batch_size=64"])
    torch.manual_seed(0)
    model = Genotype.lightgcn(2, 8).with_(norm=True).build_model(ds, graph)
    recipe = Recipe(loss="softmax", negatives=3, temperature=0.5)
    t = RecipeTrainer(model, ds, recipe_train_config(cfg.train, recipe), recipe=recipe)
    users, pos, neg = next(iter(t.sampler))
    other = int((pos.max() + 1) % model.n_items) if bool((pos != pos[0]).any()) else int((pos[0] + 1) % model.n_items)
    t.negatives.draw = lambda m: torch.tensor([int(pos[0]), other])       # the first user's positive
    loss = t.loss(users, pos, neg)
    u, i = model.embeddings()
    s_pos = (u[users] * i[pos]).sum(-1)
    s_neg = torch.stack([(u[users] * i[neg]).sum(-1), u[users] @ i[pos[0]], u[users] @ i[other]], 1)
    s_neg[:, 1] = s_neg[:, 1].masked_fill(pos == pos[0], float("-inf"))
    s_neg[:, 2] = s_neg[:, 2].masked_fill(pos == other, float("-inf"))
    logits = torch.cat([s_pos[:, None], s_neg], 1) / 0.5
    ref = torch.nn.functional.cross_entropy(logits, torch.zeros(len(users), dtype=torch.long))
    ego_u, ego_i = model.ego_embeddings()
    ref = ref + cfg.train.l2 * 0.5 * (ego_u[users].pow(2).sum() + ego_i[pos].pow(2).sum()
                                      + ego_i[neg].pow(2).sum()) / len(users)
    assert torch.isfinite(loss) and torch.allclose(loss, ref, atol=1e-6)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_budget_predicts_a_many_negatives_run_as_costlier():
    from darts_gnn.search.select import recipe_cost_factor
    assert recipe_cost_factor(None) == 1.0 and recipe_cost_factor(Recipe()) == 1.0
    assert recipe_cost_factor(Recipe(loss="softmax", negatives=1024)) == pytest.approx(1 + 1023 / 512)
    assert recipe_cost_factor(Recipe(negatives=64)) < recipe_cost_factor(Recipe(loss="softmax", negatives=1024))
    b = _Budget(100.0)
    b.record(10.0, _cand(10.0, 10, 0.2))                      # reserve 10 s, mean run 10 s
    b.t0 = time.perf_counter() - 65.0
    assert b.allows(1.0) and b.allows(recipe_cost_factor(Recipe(negatives=64)))      # 65 + 11.2 + 10
    assert not b.allows(recipe_cost_factor(Recipe(loss="softmax", negatives=1024)))   # 65 + 30 + 10 > 100


def _trainer(recipe, n_items_dim=8):
    import torch

    from darts_gnn.search.recipe import RecipeTrainer, recipe_train_config
    from tests.helpers import tiny
    ds, graph = tiny()
    cfg = load_config(None, ["train.batch_size=64"])
    torch.manual_seed(0)
    model = Genotype.lightgcn(2, n_items_dim).with_(norm=True).build_model(ds, graph)
    return RecipeTrainer(model, ds, recipe_train_config(cfg.train, recipe), recipe=recipe), model, cfg


def test_shared_negatives_are_distinct_and_cover_a_small_catalog():
    import torch
    t, model, _ = _trainer(Recipe(loss="softmax", negatives=16, temperature=0.5))
    n = model.n_items
    for m in (1, 5, n // 2):
        ids = t.negatives.draw(m)
        assert ids.numel() == m and ids.unique().numel() == m and int(ids.min()) >= 0 and int(ids.max()) < n
    assert torch.equal(t.negatives.draw(n + 10).sort().values, torch.arange(n))   # all items when M - 1 >= n
    shared = torch.tensor([3, 7, 1])
    rows, cols = t.negatives.hits(shared, torch.tensor([7, 2, 1, 7]))
    assert rows.tolist() == [0, 2, 3] and cols.tolist() == [1, 2, 1]


def test_shared_negatives_bpr_averages_over_unmasked_pairs():
    import torch
    import torch.nn.functional as F
    recipe = Recipe(loss="bpr", negatives=3)
    t, model, cfg = _trainer(recipe)
    users, pos, neg = next(iter(t.sampler))
    shared = torch.tensor([int(pos[0]), int((pos[0] + 1) % model.n_items)])
    t.negatives.draw = lambda m: shared
    loss = t.loss(users, pos, neg)
    u, i = model.embeddings()
    s_pos = (u[users] * i[pos]).sum(-1)
    cols = torch.stack([(u[users] * i[neg]).sum(-1), u[users] @ i[shared[0]], u[users] @ i[shared[1]]], 1)
    keep = torch.stack([torch.ones_like(pos, dtype=torch.bool), pos != shared[0], pos != shared[1]], 1)
    ref = (F.softplus(cols - s_pos[:, None]) * keep).sum() / keep.sum()
    ego_u, ego_i = model.ego_embeddings()
    ref = ref + cfg.train.l2 * 0.5 * (ego_u[users].pow(2).sum() + ego_i[pos].pow(2).sum()
                                      + ego_i[neg].pow(2).sum()) / len(users)
    assert torch.allclose(loss, ref, atol=1e-6)


def test_budget_starts_a_run_when_a_fraction_of_it_fits():
    b = _Budget(100.0, start_fraction=0.5, reserve_final=False)
    b.record(40.0, _cand(40.0, 40, 0.2))                      # mean run 40 s, no final-retrain reserve
    b.t0 = time.perf_counter() - 75.0
    assert b.allows()                                         # 75 + 0.5 x 40 <= 100
    whole = _Budget(100.0, start_fraction=1.0)
    whole.record(40.0, _cand(40.0, 40, 0.2))
    whole.t0 = b.t0
    assert not whole.allows() and whole.reserve > 0           # 75 + 40 + reserve > 100
    b.t0 = time.perf_counter() - 85.0
    assert not b.allows()                                     # 85 + 20 > 100
    assert 0 < b.left() < 15.1 and _Budget(None).left() is None


def test_recipe_plan_puts_the_baseline_first_recipe_by_recipe():
    from types import SimpleNamespace

    from darts_gnn.search.select import _recipe_plan
    lr = 5e-3
    base, top = Genotype.lightgcn(2, 8), Genotype.mf(8)
    done = [Candidate(g.with_(recipe=Recipe(lr=lr)), {"recall@20": v}, 1.0, 5)
            for g, v in ((top, 0.3), (base, 0.2))]
    grid = [(Recipe(l2=1e-3), None), (Recipe(loss="softmax", negatives=8, temperature=0.2), True)]
    s = SimpleNamespace(select_lr=lr, select_recipe_top=1)
    plan = [(g.recipe.loss, g.with_(recipe=None, norm=False)) for g in _recipe_plan(done, [base], grid, s, "recall@20", True)]
    assert plan == [("bpr", base), ("bpr", top), ("softmax", base), ("softmax", top)]
    only_top = [g.with_(recipe=None, norm=False) for g in _recipe_plan(done, [], grid, s, "recall@20", True)]
    assert only_top == [top, top]
    not_retrained = [g.with_(recipe=None, norm=False) for g in
                     _recipe_plan(done[:1], [base], grid, s, "recall@20", True)]
    assert not_retrained == [top, top]                       # an anchor that was not retrained gets none
