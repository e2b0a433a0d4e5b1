"""Validated selection after a strategy other than DARTS: the pool is the strategy's best candidates
plus the baseline point; the winner is picked on validation only and is what gets retrained."""
from __future__ import annotations

import math

from darts_gnn.config import load_config
from darts_gnn.space.genotype import Genotype
from darts_gnn.pipeline import run_search
from darts_gnn.search.finish import select_after_strategy
from darts_gnn.search.select import INCUMBENT, default_grid
from darts_gnn.search.strategy import SearchContext, run_strategy
from test_strategies import TINY

SELECT = ["search.select=true", "search.select_pool=2", "search.select_patience=1", "search.select_recipe_top=0",
          "search.total_budget_seconds=600"]


def test_selection_pool_holds_strategy_candidates_and_baseline():
    cfg = load_config(None, TINY + SELECT + ["search.strategy=random", "search.select_lead_on=baseline"])
    ctx = SearchContext.from_config(cfg)
    found = run_strategy(ctx)
    winner, sel, diag = select_after_strategy(cfg, found, ctx.dataset, ctx.graph, ctx.evaluator)
    retrained = [c.genotype for c in sel.candidates]
    lightgcn = Genotype.lightgcn(cfg.model.n_layers, cfg.model.dim)
    bare = {g.with_(recipe=None, norm=False) for g in retrained}
    population = [g.with_(recipe=None) for g in found.candidates]
    assert bare <= set(population) | {lightgcn}          # the pool, then spare budget down the population
    assert lightgcn in bare or len(bare) < 3
    arch = [c.genotype.with_(recipe=None, norm=False) for c in sel.candidates if c.stage == "architecture"]
    spare = [g for g in arch if g not in population[:2] and g != lightgcn]
    assert spare == [g for g in population[2:] if g in spare]   # in the population's order, after the pool
    # select_recipe_top=0: only the baseline point (an anchor) gets the recipe grid, once per entry
    recipe_stage = [c.genotype for c in sel.candidates if c.stage == "recipe"]
    assert {g.with_(recipe=None, norm=False) for g in recipe_stage} == {lightgcn}
    assert len(recipe_stage) == len(set(recipe_stage)) == len(default_grid(cfg.search.select_lr)) - 1
    assert any(g.recipe.loss == "softmax" and g.norm for g in recipe_stage)
    best = max(sel.candidates, key=lambda c: c.score(sel.metric))
    incumbent = next(c for c in sel.candidates if c.stage == INCUMBENT)
    # the best mean wins unless the incumbent holds on the paired test over the same validation users
    assert winner == (incumbent.genotype if sel.paired["kept_incumbent"] else best.genotype)
    assert diag["budget_seconds"] == 600 and diag["selection_seconds"] > 0
    assert diag["proxy_spearman"] is None or -1.0 <= diag["proxy_spearman"] <= 1.0


def test_run_search_with_a_strategy_reports_the_selection():
    cfg = load_config(None, TINY + SELECT + ["search.strategy=random"])
    rep = run_search(cfg)
    sel = rep.metrics["selection"]
    assert rep.genotype.to_dict()["summary"] == rep.metrics["genotype"]["summary"]
    assert sel["selection"]["candidates"], "the selection retrained nothing"
    assert math.isfinite(rep.test["recall@20"])
