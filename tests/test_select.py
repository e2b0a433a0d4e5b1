"""Issue 9: validated selection, proxy diagnostics, seeds summary and ``search --seeds``."""
import json
import math
from types import SimpleNamespace

import pytest
import torch

from darts_gnn.cli import main
from darts_gnn.config import load_config
from darts_gnn.data import Graph, load_dataset
from darts_gnn.space.genotype import Genotype, LayerGene
from darts_gnn.tasks.metrics import Evaluator
from darts_gnn.search.pool import baseline_genotype, build_pool, one_shot_scores, sample_genotypes
from darts_gnn.search.recipe import Recipe
from darts_gnn.search.seeds import compare_text, seed_configs, summarise
from darts_gnn.search.select import PROXY_WARN, select_genotype, spearman

TINY = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
        "data.split=random", "train.epochs=3", "train.batch_size=256", "train.progress=false",
        "search.epochs=2", "search.warmup_epochs=1", "search.n_layers=2", "search.eval_every=0",
        "search.log_every=0", "search.select_samples=6", "search.select_patience=1", "model.dim=16",
        "model.n_layers=2", "search.space={aggregators: [gcn, mean, sum], transforms: [identity, linear]}"]


@pytest.fixture(scope="module")
def data():
    cfg = load_config(None, TINY)
    ds = load_dataset(cfg.data)
    return cfg, ds, Graph.from_dataset(ds, "train"), Evaluator(ds, ks=(20,))


def test_spearman_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(math.sqrt(3) / 2)   # average ranks for ties
    assert math.isnan(spearman([1, 1], [1, 2])) and math.isnan(spearman([1], [2]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_selection_picks_the_best_validation_and_tries_recipes(data):
    cfg, ds, graph, ev = data
    pool = [Genotype.mf(16), Genotype.lightgcn(2, 16), Genotype((LayerGene("sum", "linear", "none"),), "last", 16)]
    shots = {pool[0]: 0.2, pool[1]: 0.3, pool[2]: 0.25}       # none below half the best: none pruned
    recipes = [Recipe(lr=5e-3), Recipe(lr=5e-3, l2=1e-3)]
    res = select_genotype(pool, ds, graph, cfg, ev, one_shot=shots, recipes=recipes)
    scores = [c.score("recall@20") for c in res.candidates]
    assert len(res.candidates) == 3 + 1            # 3 architectures, 1 new recipe on the best one
    assert res.best.score("recall@20") == max(scores) and res.winner == res.best.genotype
    arch = [c for c in res.candidates if c.stage == "architecture"]
    assert res.spearman == pytest.approx(spearman([c.one_shot for c in arch], [c.score("recall@20") for c in arch]))
    assert all(c.genotype.recipe is not None and c.genotype.recipe.lr == 5e-3 for c in res.candidates)
    d = res.to_dict()
    assert d["winner"] == res.winner.to_dict() and len(d["candidates"]) == 4
    if res.spearman < PROXY_WARN:
        assert any("uninformative" in w for w in res.warnings)
    assert "*" in res.table()


def test_selection_budget_skips_but_always_trains_one(data):
    cfg, ds, graph, ev = data
    pool = [Genotype.mf(16), Genotype.lightgcn(2, 16)]
    res = select_genotype(pool, ds, graph, cfg, ev, budget_seconds=1e-9)
    assert len(res.candidates) == 1 and res.skipped >= 1 and res.winner.layers == ()
    assert any("budget" in w for w in res.warnings)
    with pytest.raises(ValueError, match="empty"):
        select_genotype([], ds, graph, cfg, ev)


def test_pool_samples_scores_and_baseline(data):
    from darts_gnn.search import build_searcher
    cfg, ds, graph, ev = data
    net = build_searcher(cfg, ds, graph, progress=False).model
    alpha = [a.detach().clone() for a in net.arch_parameters()]
    samples = sample_genotypes(net, 5, seed=0)
    assert 1 <= len(samples) <= 5 and len(set(samples)) == len(samples)
    assert all(net.space.contains(g) for g in samples)
    assert sample_genotypes(net, 5, seed=0) == samples
    base = baseline_genotype(cfg.model)
    assert base == Genotype.lightgcn(2, 16) and baseline_genotype(SimpleNamespace(name="ngcf")) is None
    pool, extra, scores = build_pool(net, ev, [net.genotype()], 5, 0, base)
    assert pool[0] == net.genotype() and extra == [base] and base in scores
    assert all(0 <= v <= 1 for v in scores.values())
    assert all(torch.equal(a, b) for a, b in zip(alpha, net.arch_parameters()))   # α restored
    outside = Genotype.lightgcn(2, 32)
    assert outside not in one_shot_scores(net, [outside], ev)


def _report(test, base):
    return SimpleNamespace(test=test, baseline={"name": "lightgcn", "test": base},
                           genotype=Genotype.lightgcn(1, 8))


def test_seed_summary_says_plainly_when_it_does_not_beat():
    reps = [_report({"recall@20": 0.30, "ndcg@20": 0.40}, {"recall@20": 0.31, "ndcg@20": 0.39}),
            _report({"recall@20": 0.32, "ndcg@20": 0.42}, {"recall@20": 0.33, "ndcg@20": 0.41})]
    s = summarise(reps)
    assert s["metrics"]["recall@20"]["searched"][0] == pytest.approx(0.31)
    assert s["metrics"]["ndcg@20"]["beats"] is True and s["beats"] is False
    text = compare_text(s, "lightgcn")
    assert "does NOT beat lightgcn" in text and "±" in text
    win = summarise([_report({"recall@20": 0.4, "ndcg@20": 0.5}, {"recall@20": 0.3, "ndcg@20": 0.4})])
    assert win["beats"] is True and "beats lightgcn" in compare_text(win, "lightgcn")
    cfgs = seed_configs(load_config(None, ["train.seed=7"]), 3)
    assert [c.train.seed for c in cfgs] == [7, 8, 9] and [c.search.seed for c in cfgs] == [7, 8, 9]
    assert len({c.data.seed for c in cfgs}) == 1


def test_cli_search_seeds_reports_mean_std_and_verdict(tmp_path, capsys):
    sets = []
    for s in TINY + ["search.select_pool=1", "search.select_recipe_top=0"]:
        sets += ["--set", s]
    assert main(["search", *sets, "--seeds", "2", "--compare-baseline", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "over 2 seeds" in out and "±" in out and ("does NOT beat" in out or "beats lightgcn" in out)
    summary = json.loads((tmp_path / "r" / "seeds.json").read_text())
    assert summary["seeds"] == 2 and (tmp_path / "r" / "seed1" / "metrics.json").is_file()
    m = json.loads((tmp_path / "r" / "seed0" / "metrics.json").read_text())
    assert "proxy_spearman" in m["selection"] and m["selection"]["baseline_one_shot"] is not None


def test_budget_warning_says_when_no_architecture_of_the_search_was_retrained():
    from darts_gnn.search.selection_result import Candidate, SelectionResult, diagnose
    base = Genotype.lightgcn(2, 16)
    inc = Candidate(base, {"recall@20": 0.30}, 10.0, 50, stage="incumbent")
    lead = Candidate(base.with_(recipe=Recipe("softmax", 64, 0.2, lr=5e-3), norm=True), {"recall@20": 0.32},
                     12.0, 40, stage="recipe")
    res = SelectionResult(lead.genotype, [inc, lead], 22.0, "recall@20", skipped=2)
    diagnose(res)
    assert any("none of the search's architectures was retrained" in w and "2 skipped" in w for w in res.warnings)
    arch = Candidate(Genotype.mf(16), {"recall@20": 0.31}, 5.0, 20, one_shot=0.1)
    res = SelectionResult(lead.genotype, [inc, lead, arch], 27.0, "recall@20", skipped=1)
    diagnose(res)
    assert any("1 candidate(s) skipped" in w for w in res.warnings)
    assert not any("none of the search's" in w for w in res.warnings)
