"""The selection's budget savers: one-shot pruning, the incumbent cut and the curve cut (darts_gnn.search.early_cut)."""
from __future__ import annotations

import dataclasses
import time

import pytest

from darts_gnn.config import ConfigError, load_config
from darts_gnn.data import Graph, load_dataset
from darts_gnn.search.early_cut import any_rule, curve_rule, cut_rule, deadline_rule, prune_by_one_shot, reached
from darts_gnn.search.select import select_genotype
from darts_gnn.space.genotype import Genotype
from darts_gnn.space.recipe import Recipe
from darts_gnn.tasks.metrics import Evaluator

TINY = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
        "data.split=random", "train.epochs=12", "train.eval_every=2", "train.batch_size=256", "train.progress=false",
        "search.select_patience=2", "model.dim=16", "model.n_layers=2"]


def test_reached_both_directions():
    assert reached(0.95, 1.0, 0.95) and not reached(0.94, 1.0, 0.95)
    assert reached(1.05, 1.0, 0.95, higher_is_better=False) and not reached(1.06, 1.0, 0.95, higher_is_better=False)


def test_prune_keeps_anchors_unscored_and_close_ones():
    a, b, c, d = "a", "b", "c", "d"
    kept, pruned = prune_by_one_shot([a, b, c, d], {a: 0.20, b: 0.15, c: 0.04}, 0.5, keep=[])
    assert kept == [a, b, d] and pruned == [c]
    kept, pruned = prune_by_one_shot([a, b, c], {a: 0.20, b: 0.15, c: 0.04}, 0.5, keep=[c])
    assert kept == [a, b, c] and pruned == []
    assert prune_by_one_shot([a, c], {a: 0.2, c: 0.04}, 0.0) == ([a, c], [])          # off
    assert prune_by_one_shot([a, c], {a: -0.2, c: -0.9}, 0.5) == ([a, c], [])        # not a positive proxy


def test_cut_rule_stops_only_after_the_incumbents_epochs_and_below_rho():
    assert cut_rule(None, 10, 0.95, "recall@20") is None and cut_rule(0.3, 10, 0.0, "recall@20") is None
    stop = cut_rule(0.30, 10, 0.95, "recall@20")
    assert not stop(4, {"valid/recall@20": 0.10})        # too early to judge
    assert not stop(9, {"loss": 1.0})                     # no evaluation this epoch
    assert not stop(10, {"valid/recall@20": 0.29})       # within 5%: keeps going
    assert not stop.fired
    late = cut_rule(0.30, 10, 0.95, "recall@20")
    assert not late(6, {"valid/recall@20": 0.20}) and late(10, {"valid/recall@20": 0.25}) and late.fired
    rmse = cut_rule(0.90, 4, 0.95, "rmse", higher_is_better=False)          # within: <= 0.90 / 0.95
    assert not rmse(4, {"valid/rmse": 0.94}) and not rmse(6, {"valid/rmse": 0.96})   # its best (0.94) counts
    worse = cut_rule(0.90, 4, 0.95, "rmse", higher_is_better=False)
    assert worse(4, {"valid/rmse": 0.96}) and worse.fired


# the LightGCN + softmax curve of ml-100k seed 1 (BENCHMARKS.md, issue 9 session 8), first five evaluations
REFERENCE = [(5, 0.2975), (10, 0.3180), (15, 0.3268), (20, 0.3308), (25, 0.3343)]


def test_curve_rule_follows_the_reference_epoch_by_epoch():
    assert curve_rule([], 0.97, "recall@20") is None and curve_rule(REFERENCE, 0.0, "recall@20") is None
    slow_start = curve_rule(REFERENCE, 0.97, "recall@20")
    assert not slow_start(5, {"valid/recall@20": 0.10})        # the first evaluation is never judged
    assert not slow_start(7, {"loss": 0.5})                     # no evaluation this epoch
    assert not slow_start(10, {"valid/recall@20": 0.3090})     # 0.3090 >= 0.97 x 0.3180
    assert not slow_start(15, {"valid/recall@20": 0.3215})
    assert not slow_start(20, {"valid/recall@20": 0.3000})     # its best so far (0.3215 >= 0.97 x 0.3308) counts
    assert slow_start(25, {"valid/recall@20": 0.3100}) and slow_start.fired   # 0.3215 < 0.97 x 0.3343
    trailing = curve_rule(REFERENCE, 0.97, "recall@20")
    assert not trailing(5, {"valid/recall@20": 0.2908}) and trailing(10, {"valid/recall@20": 0.3005})
    beyond = curve_rule(REFERENCE, 0.97, "recall@20")          # past the reference's end: its final best
    assert not beyond(40, {"valid/recall@20": 0.30}) and not beyond(45, {"valid/recall@20": 0.325})
    assert beyond(50, {"valid/recall@20": 0.31}) is False     # best so far 0.325 >= 0.97 x 0.3343
    late = curve_rule(REFERENCE, 0.97, "recall@20")
    assert not late(40, {"valid/recall@20": 0.30}) and late(45, {"valid/recall@20": 0.32})
    late_peak = REFERENCE + [(60, 0.3400)]                     # peaked at 60: judged from epoch 20 on
    slow = curve_rule(late_peak, 0.97, "recall@20")
    assert not slow(5, {"valid/recall@20": 0.25}) and not slow(10, {"valid/recall@20": 0.26})
    assert not slow(15, {"valid/recall@20": 0.27}) and slow(20, {"valid/recall@20": 0.28}) and slow.fired
    eager = curve_rule(late_peak, 0.97, "recall@20", start_fraction=0.0)   # from the second evaluation
    assert not eager(5, {"valid/recall@20": 0.25}) and eager(10, {"valid/recall@20": 0.26})
    rmse = curve_rule([(1, 1.0), (2, 0.9)], 0.95, "rmse", higher_is_better=False)
    assert not rmse(1, {"valid/rmse": 1.2}) and not rmse(2, {"valid/rmse": 0.94}) and not rmse.fired
    worse = curve_rule([(1, 1.0), (2, 0.9)], 0.95, "rmse", higher_is_better=False)
    assert not worse(1, {"valid/rmse": 1.2}) and worse(2, {"valid/rmse": 0.96}) and worse.fired


@pytest.fixture(scope="module")
def data():
    cfg = load_config(None, TINY)
    ds = load_dataset(cfg.data)
    return cfg, ds, Graph.from_dataset(ds, "train"), Evaluator(ds, ks=(20,))


def test_train_candidate_honours_the_cut_and_selection_prunes_by_one_shot(data):
    from darts_gnn.search.select import train_candidate
    cfg, ds, graph, ev = data
    good, bad, worse = Genotype.lightgcn(2, 16), Genotype.mf(16), Genotype.lightgcn(1, 16)
    _, free, _ = train_candidate(good, ds, graph, cfg.train, ev, patience=50)
    assert free.epochs_run == cfg.train.epochs
    rule = cut_rule(1.0, 4, 0.95, "recall@20")            # an unreachable incumbent: stop at epoch 4
    _, cut, _ = train_candidate(good, ds, graph, cfg.train, ev, patience=50, stop=rule)
    assert rule.fired and cut.epochs_run == 4 and cut.best_valid
    res = select_genotype([good, bad, worse], ds, graph, cfg, ev, recipes=[], one_shot={good: 0.3, bad: 0.1, worse: 0.2},
                          anchors=[])
    assert res.pruned == [bad] and [c.genotype.with_(recipe=None) for c in res.candidates] == [good, worse]
    assert res.to_dict()["pruned"] == [bad.summary()] and "pruned (one-shot" in res.table()
    assert bad.summary() in res.table().splitlines()[-1]
    kept = select_genotype([good, bad], ds, graph, cfg, ev, recipes=[], one_shot={good: 0.3, bad: 0.1}, anchors=[bad])
    assert kept.pruned == [] and len(kept.candidates) == 2
    off = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, select_prune=0.0))
    assert select_genotype([good, bad], ds, graph, off, ev, recipes=[], one_shot={good: 0.3, bad: 0.1}).pruned == []


def test_selection_cuts_a_candidate_that_trails_the_same_recipes_best_curve(data):
    cfg, ds, graph, ev = data
    good, bad = Genotype.lightgcn(2, 16), Genotype.mf(16)
    off = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, select_cut=0.0, select_curve_cut=0.0,
                                                               select_prune=0.0))
    free = select_genotype([good, bad], ds, graph, off, ev, recipes=[], anchors=[])
    ref, mf = free.candidates
    assert len(ref.curve) == ref.epochs // cfg.train.eval_every and ref.score("recall@20") == max(v for _, v in ref.curve)
    assert free.to_dict()["candidates"][0]["curve"] == [list(p) for p in ref.curve]
    # the rule the selection applies, replayed on the free run's numbers: where it must stop MF, if anywhere
    rho = 1.0 - 1e-9 if mf.score("recall@20") < ref.score("recall@20") else 0.5
    replay = curve_rule(ref.curve, rho, "recall@20")
    stop_at = next((e for e, v in mf.curve if replay(e, {"valid/recall@20": v})), None)
    on = dataclasses.replace(off, search=dataclasses.replace(off.search, select_curve_cut=rho))
    cut = select_genotype([good, bad], ds, graph, on, ev, recipes=[], anchors=[])
    assert [c.curve for c in cut.candidates][0] == ref.curve                    # same seed, same reference
    assert stop_at is not None and cut.candidates[1].cut and cut.candidates[1].epochs == stop_at < mf.epochs
    other = select_genotype([good, bad.with_(norm=True)], ds, graph, on, ev, recipes=[], anchors=[])
    assert not other.candidates[1].cut      # another protocol (norm): no reference to keep up with


def test_the_incumbents_curve_is_a_reference_for_runs_at_its_lr_or_above(data):
    from darts_gnn.search.pool import incumbent_candidate
    from darts_gnn.search.select import Candidate, INCUMBENT, _curve_rules
    cfg, ds, graph, ev = data
    inc = incumbent_candidate(cfg, ds, graph, ev)
    assert inc.stage == INCUMBENT and len(inc.curve) == inc.epochs // cfg.train.eval_every
    reused = incumbent_candidate(cfg, ds, graph, ev, baseline={"best_valid": inc.valid, "train_seconds": 1.0,
                                                             "epochs": inc.epochs, "valid_curve": list(inc.curve)})
    assert reused.curve == inc.curve
    lr = inc.genotype.recipe.lr
    fast, slow = (Genotype.mf(16).with_(recipe=Recipe(lr=f * lr)) for f in (5.0, 0.5))
    assert len(_curve_rules([inc], fast, 0.97, "recall@20", True)) == 1
    assert _curve_rules([inc], slow, 0.97, "recall@20", True) == [] and _curve_rules([inc], fast, 0.0, "recall@20", True) == []
    peer = Candidate(fast, inc.valid, 1.0, inc.epochs, curve=inc.curve)
    assert len(_curve_rules([inc, peer], fast, 0.97, "recall@20", True)) == 2   # the same recipe's best, and the incumbent


@pytest.mark.parametrize("key,value", [("search.select_cut", "1.5"), ("search.select_curve_cut", "-0.2"), ("search.select_prune", "-0.1"),
                                       ("search.select_prune", "1")])
def test_config_rejects_out_of_range(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [f"{key}={value}"])


def test_deadline_and_any_rule():
    import time
    assert deadline_rule(None) is None and any_rule(None, None) is None
    now = deadline_rule(0.0)
    assert now(1, {}) and now.fired
    later = deadline_rule(60.0)
    assert not later(1, {}) and not later.fired
    cut = cut_rule(0.3, 2, 0.95, "recall@20")
    both = any_rule(later, cut)
    assert not both(1, {"valid/recall@20": 0.1}) and both(2, {"valid/recall@20": 0.1}) and cut.fired
    t0 = time.perf_counter()
    short = deadline_rule(0.05)
    while not short(0, {}):
        time.sleep(0.01)
    assert short.fired and time.perf_counter() - t0 < 0.5   # the exact stop: the fake-clock test below


def test_deadline_stops_before_the_epoch_that_would_overrun(monkeypatch):
    """Epochs of 10 s with the third one 16 s long (an evaluated epoch), a deadline at 50 s: the run
    stops at 36 s, where the longest epoch so far would end past 50 s (the old rule ran to 56 s)."""
    from darts_gnn.engine import clock as clock_mod
    now = [0.0]
    monkeypatch.setattr(clock_mod, "now", lambda: now[0])
    stop = deadline_rule(50.0)
    ends = []
    for epoch, length in enumerate([10.0, 10.0, 16.0, 10.0, 10.0, 10.0]):
        now[0] += length
        ends.append(now[0])
        if stop(epoch, {}):
            break
    assert stop.fired and ends[-1] == 36.0
    now[0] = 0.0
    steady = deadline_rule(50.0)
    fired_at = None
    for epoch in range(10):
        now[0] += 10.0
        if steady(epoch, {}):
            fired_at = now[0]
            break
    assert fired_at == 40.0      # the fifth 10-s epoch would end exactly at 50 s: it is not started


def test_selection_budget_is_a_cap(data):
    cfg, ds, graph, ev = data
    slow = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=10_000),
                               search=dataclasses.replace(cfg.search, select_patience=10_000, select_cut=0.0))
    t0 = time.perf_counter()
    res = select_genotype([Genotype.lightgcn(2, 16)], ds, graph, slow, ev, recipes=[], budget_seconds=1.0)
    assert time.perf_counter() - t0 < 10.0
    (only,) = res.candidates
    assert only.deadline and 0 < only.epochs < 10_000 and only.valid
    assert res.to_dict()["candidates"][0]["deadline"] is True and res.winner == only.genotype


def test_spare_budget_goes_to_the_next_ranked_architectures(data):
    """search.select_spare: after the pool (and the recipe stage), the rest of the ranked list is
    retrained in order while one more run fits: never without a budget, never counted as skipped, and
    one-shot pruning applies to it."""
    cfg, ds, graph, ev = data
    good, mf, one, far = Genotype.lightgcn(2, 16), Genotype.mf(16), Genotype.lightgcn(1, 16), Genotype.mf(8)
    shots = {good: 0.3, mf: 0.25, one: 0.2, far: 0.01}
    wide = select_genotype([good], ds, graph, cfg, ev, recipes=[], anchors=[], one_shot=shots, pool_size=1,
                           spare=[mf, one, far], budget_seconds=600.0)
    assert [c.genotype.with_(recipe=None) for c in wide.candidates] == [good, mf, one]   # far: pruned
    assert wide.skipped == 0 and all(c.stage == "architecture" for c in wide.candidates)
    free = select_genotype([good], ds, graph, cfg, ev, recipes=[], anchors=[], one_shot=shots, pool_size=1,
                           spare=[mf, one])
    assert len(free.candidates) == 1                       # no budget: the pool alone
    off = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, select_spare=False))
    assert len(select_genotype([good], ds, graph, off, ev, recipes=[], anchors=[], one_shot=shots, pool_size=1,
                               spare=[mf, one], budget_seconds=600.0).candidates) == 1
    tight = select_genotype([good], ds, graph, cfg, ev, recipes=[], anchors=[], one_shot=shots, pool_size=1,
                            spare=[mf, one], budget_seconds=1e-3)
    assert len(tight.candidates) == 1 and tight.skipped == 0   # out of time: stops, nothing "skipped"
