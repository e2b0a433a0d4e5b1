"""search.select_lead_on (issue 9, session 17): the lead stage on the strategy's first-ranked
architecture instead of the baseline point, and back to the baseline point when no recipe won there."""
import dataclasses

import pytest

from darts_gnn.config import ConfigError, load_config
from darts_gnn.search.lead import lead_targets
from darts_gnn.space.genotype import Genotype
from darts_gnn.search.recipe import Recipe
from darts_gnn.search.select import select_genotype
from test_incumbent import _lead_setup, data  # noqa: F401  (the fixture)


def _top(cfg):
    return dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, select_lead_on="top"))


def _arch(g):
    return g.with_(recipe=None, norm=False)


def test_lead_targets_follow_the_setting():
    cfg = load_config(None, [])
    base, a, b = Genotype.lightgcn(2, 16), Genotype.mf(16), Genotype.lightgcn(1, 16)
    assert cfg.search.select_lead_on == "top"                                          # the default
    baseline = dataclasses.replace(cfg.search, select_lead_on="baseline")
    assert lead_targets([a, b, base], [base], baseline) == [base]
    top = _top(cfg).search
    assert lead_targets([a, b, base], [base], top) == [a]
    assert lead_targets([a.with_(recipe=Recipe(lr=0.01)), b], [base], top) == [b]    # a named recipe is not a target
    assert lead_targets([a, b], [], top) == []                                       # no baseline point: no lead
    with pytest.raises(ConfigError, match="search.select_lead_on.*baseline or top"):
        load_config(None, ["search.select_lead_on=first"])


def test_a_recipe_that_wins_on_the_first_architecture_screens_the_pool(data, monkeypatch):
    """The first architecture gets the grid (not the short BPR recipe, which the architecture stage
    owns) as architecture runs; a recipe that beats the incumbent there screens the rest of the pool,
    and the baseline point gets no lead runs of its own."""
    cfg, ds, graph, ev = data
    base, other, inc, grid, trained = _lead_setup(cfg, ev, monkeypatch, -1.0)
    res = select_genotype([other, base], ds, graph, _top(cfg), ev, recipes=grid, anchors=[base], incumbent=inc,
                          one_shot={other: 0.25, base: 0.2})
    assert [_arch(g) for g in trained[:2]] == [other, other]
    assert [c.one_shot for c in res.candidates[1:3]] == [0.25, 0.25]     # the proxy diagnostics see them
    assert [(g.recipe.loss, g.recipe.l2) for g in trained[:2]] == [("softmax", None), ("bpr", 1e-3)]
    assert [c.stage for c in res.candidates[1:3]] == ["architecture", "architecture"]
    lead = max(res.candidates[1:3], key=lambda c: c.score("recall@20")).genotype
    screened = [c.genotype for c in res.candidates[3:] if c.stage == "architecture"]
    assert screened and all(_arch(g) == base for g in screened)
    assert all((g.recipe, g.norm) == (lead.recipe, lead.norm) for g in screened)
    assert len(set(trained)) == len(trained)


def test_without_a_winning_recipe_the_baseline_point_gets_the_grid(data, monkeypatch):
    """No recipe beat the incumbent on the first architecture: the baseline point gets the grid as the
    default lead stage would (its short BPR run left to the incumbent), then the pool trains with BPR."""
    cfg, ds, graph, ev = data
    base, other, inc, grid, trained = _lead_setup(cfg, ev, monkeypatch, 2.0)
    res = select_genotype([other, base], ds, graph, _top(cfg), ev, recipes=grid, anchors=[base], incumbent=inc)
    assert [(_arch(g), g.recipe.loss, g.recipe.l2) for g in trained[:4]] == [
        (other, "softmax", None), (other, "bpr", 1e-3), (base, "softmax", None), (base, "bpr", 1e-3)]
    assert [c.stage for c in res.candidates[3:5]] == ["recipe", "recipe"]
    short = [c.genotype for c in res.candidates if c.stage == "architecture" and c.genotype.recipe == Recipe(
        lr=cfg.search.select_lr)]
    assert [_arch(g) for g in short] == [other] and not short[0].norm
    assert len(set(trained)) == len(trained)


def test_a_lead_run_on_the_first_architecture_leaves_half_the_budget_for_the_fallback(data, monkeypatch):
    """Its deadline is LEAD_TOP_SHARE of the budget left at its start; every other run gets all of it."""
    import darts_gnn.search.select as select_mod
    from darts_gnn.search.lead import LEAD_TOP_SHARE
    cfg, ds, graph, ev = data
    base, other, inc, grid, trained = _lead_setup(cfg, ev, monkeypatch, -1.0)
    deadlines, real = [], select_mod.deadline_rule
    monkeypatch.setattr(select_mod, "deadline_rule", lambda sec: deadlines.append(sec) or real(sec))
    select_genotype([other, base], ds, graph, _top(cfg), ev, recipes=grid, anchors=[base], incumbent=inc,
                    budget_seconds=1000.0)
    assert len(deadlines) == len(trained) >= 3
    first, later = deadlines[0], deadlines[2]
    assert first == pytest.approx(LEAD_TOP_SHARE * 1000.0, rel=0.05)
    assert later > first * 1.5                     # the architecture stage's runs: the whole budget left
