"""Issue 9 (session 11): the selection's shallow candidate (``search.select_shallow``).

The one-shot score cannot rank depths when the candidates train with another objective than the
supernet's, so the best one-shot genotype of the shallowest searched depth is retrained first then."""
import dataclasses

import pytest

from darts_gnn.config import ConfigError, load_config
from darts_gnn.data import Graph, load_dataset
from darts_gnn.search import build_searcher
from darts_gnn.search.pool import one_shot_scores, sample_genotypes, shallow_cover
from darts_gnn.search.select import select_genotype
from darts_gnn.space.genotype import Genotype, LayerGene
from darts_gnn.tasks.metrics import Evaluator

TINY = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
        "data.split=random", "train.epochs=3", "train.batch_size=256", "train.progress=false",
        "search.epochs=1", "search.warmup_epochs=0", "search.n_layers=3", "search.eval_every=0",
        "search.log_every=0", "search.select_patience=1", "model.dim=16", "model.n_layers=3",
        "search.space={aggregators: [gcn, mean, sum], transforms: [identity, linear]}"]
SOFTMAX = [{"loss": "softmax", "negatives": 8, "temperature": 0.2, "norm": True}]


@pytest.fixture(scope="module")
def data():
    cfg = load_config(None, TINY)
    ds = load_dataset(cfg.data)
    graph = Graph.from_dataset(ds, "train")
    return cfg, ds, graph, Evaluator(ds, ks=(20,)), build_searcher(cfg, ds, graph, progress=False).model


def _with(cfg, **search):
    return dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, **search))


def test_depth_conditioned_samples_keep_the_depth(data):
    *_, net = data
    for d in (0, 1, 3):
        draws = sample_genotypes(net, 6, seed=1, depth=d)
        assert draws and all(g.depth == d and net.space.contains(g) for g in draws)
    assert sample_genotypes(net, 6, seed=1, depth=1) == sample_genotypes(net, 6, seed=1, depth=1)


def test_shallow_cover_is_mf_when_depth_0_is_searched(data):
    cfg, ds, graph, ev, net = data
    deep = [Genotype.lightgcn(3, 16), Genotype.lightgcn(2, 16)]
    scores = one_shot_scores(net, deep, ev)
    g = shallow_cover(net, ev, deep, 8, 0, scores)
    assert g == Genotype.mf(16) and g in scores
    # the pool's own when it holds one that shallow
    one = Genotype((LayerGene("mean", "identity", "none"),), "mean", 16)
    assert shallow_cover(net, ev, deep + [Genotype.mf(16)], 8, 0, one_shot_scores(net, deep + [Genotype.mf(16)], ev)) \
        == Genotype.mf(16)
    assert shallow_cover(net, ev, deep + [one], 8, 0, one_shot_scores(net, deep + [one], ev)) == Genotype.mf(16)


def test_shallow_cover_of_a_space_without_depth_0_ranks_its_shallowest_depth():
    cfg = load_config(None, TINY + ["search.space={depths: [1, 3], aggregators: [gcn, mean, sum]}"])
    ds = load_dataset(cfg.data)
    graph = Graph.from_dataset(ds, "train")
    ev = Evaluator(ds, ks=(20,))
    net = build_searcher(cfg, ds, graph, progress=False).model
    deep = [Genotype.lightgcn(3, 16)]
    scores = one_shot_scores(net, deep, ev)
    g = shallow_cover(net, ev, deep, 8, 0, scores)
    draws = [d for d in scores if d.depth == 1]
    assert g.depth == 1 and net.space.contains(g) and len(draws) >= 2
    assert scores[g] == max(scores[d] for d in draws)          # the best of the draws by one-shot score
    one = [Genotype((LayerGene("mean", "identity", "none"),), "mean", 16),
           Genotype((LayerGene("gcn", "identity", "none"),), "last", 16)]
    own = one_shot_scores(net, deep + one, ev)
    assert shallow_cover(net, ev, deep + one, 8, 0, dict(own)) == max(one, key=own.get)
    fixed = load_config(None, TINY + ["search.space={depths: [3]}"])
    net3 = build_searcher(fixed, ds, graph, progress=False).model
    assert shallow_cover(net3, ev, deep, 4, 0, {}) is None     # depth not searched: nothing to cover


def _architectures(res):
    return [c.genotype.with_(recipe=None, norm=False) for c in res.candidates if c.stage == "architecture"]


def test_shallow_candidate_goes_first_only_when_the_lead_recipe_replaced_bpr(data):
    cfg, ds, graph, ev, _ = data
    cfg = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, select_lead_on="baseline"))
    base = Genotype.lightgcn(3, 16)
    pool = [Genotype.lightgcn(2, 16), Genotype((LayerGene("mean", "identity", "none"),) * 2, "mean", 16)]
    shallow = Genotype.mf(16)
    run = dict(recipes=SOFTMAX, anchors=[base], shallow=[shallow])
    res = select_genotype(pool, ds, graph, cfg, ev, **run)
    assert res.candidates[0].stage == "recipe" and res.candidates[0].genotype.recipe.loss == "softmax"
    assert _architectures(res) == [shallow] + pool                    # first, with the lead recipe
    assert all(c.genotype.recipe.loss == "softmax" for c in res.candidates if c.stage == "architecture")
    assert [c.shallow for c in res.candidates if c.stage == "architecture"] == [True, False, False]
    # the pool's own shallow genotype goes first too, but it is a pick of the search
    own = select_genotype(pool + [shallow], ds, graph, cfg, ev, **run)
    assert _architectures(own)[0] == shallow and not any(c.shallow for c in own.candidates)
    assert shallow not in _architectures(select_genotype(pool, ds, graph, _with(cfg, select_shallow=False), ev, **run))
    # no lead (the anchors' recipes are not run): the pool trains with BPR as the supernet did
    no_lead = select_genotype(pool, ds, graph, _with(cfg, select_lead=False), ev, **run)
    assert shallow not in _architectures(no_lead)
    # a supernet trained with the lead's objective ranks depths under it: nothing to correct
    same = select_genotype(pool, ds, graph, _with(cfg, supernet_objective="lead"), ev, **run)
    assert shallow not in _architectures(same)


def test_select_shallow_is_a_checked_boolean():
    assert load_config(None, ["search.select_shallow=false"]).search.select_shallow is False
    with pytest.raises(ConfigError, match="search.select_shallow"):
        load_config(None, ["search.select_shallow=3"])


def test_the_curve_cut_spares_the_shallow_candidate_only(data, monkeypatch):
    import darts_gnn.search.select as select
    from darts_gnn.search.early_cut import _rule
    cfg, ds, graph, ev, _ = data
    cfg = load_config(None, TINY + ["train.epochs=4", "train.eval_every=1", "search.select_patience=3"])
    asked = []

    def curve_rules(done, genotype, *a, **k):     # a curve cut that stops a 2-layer run at its first evaluation
        asked.append(genotype.with_(recipe=None, norm=False))
        return [_rule("recall@20", lambda e, seen: True)] if genotype.depth == 2 else []
    monkeypatch.setattr(select, "_curve_rules", curve_rules)
    pool = [Genotype.lightgcn(2, 16)]
    res = select_genotype(pool, ds, graph, cfg, ev, recipes=SOFTMAX, anchors=[Genotype.lightgcn(3, 16)],
                          shallow=[Genotype.mf(16)])
    runs = {c.genotype.with_(recipe=None, norm=False): c for c in res.candidates if c.stage == "architecture"}
    assert Genotype.mf(16) not in asked and pool[0] in asked
    assert runs[pool[0]].cut is True and runs[pool[0]].epochs == 1
    assert runs[Genotype.mf(16)].epochs > 1


def test_diagnostics_tell_the_shallow_candidate_from_the_search_picks():
    from darts_gnn.search.recipe import Recipe
    from darts_gnn.search.selection_result import Candidate, SelectionResult, diagnose
    soft = dict(recipe=Recipe("softmax", 64, 0.2, lr=5e-3), norm=True)
    base = Genotype.lightgcn(2, 16)
    inc = Candidate(base, {"recall@20": 0.30}, 10.0, 50, stage="incumbent")
    lead = Candidate(base.with_(**soft), {"recall@20": 0.32}, 12.0, 40, stage="recipe")
    mf = Candidate(Genotype.mf(16).with_(**soft), {"recall@20": 0.33}, 9.0, 60, one_shot=0.02, shallow=True)
    res = SelectionResult(mf.genotype, [inc, lead, mf], 31.0, "recall@20", skipped=2)
    diagnose(res)
    # only the shallow candidate fitted: no architecture of the search was retrained, and it won
    assert any("none of the search's architectures" in w and "the shallow candidate" in w for w in res.warnings)
    assert any("the winner is the shallow candidate" in w for w in res.warnings)
    assert mf.to_dict()["shallow"] is True and "(shallow candidate, search.select_shallow)" in res.table()
    pick = Candidate(Genotype.lightgcn(1, 16).with_(**soft), {"recall@20": 0.34}, 9.0, 60, one_shot=0.2)
    res = SelectionResult(pick.genotype, [inc, lead, mf, pick], 40.0, "recall@20", skipped=1)
    diagnose(res)
    assert not any("shallow" in w for w in res.warnings) and any("1 candidate(s) skipped" in w for w in res.warnings)
