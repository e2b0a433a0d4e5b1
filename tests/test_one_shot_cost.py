"""Issue 9 (session 6): the cost of the search's one-shot evaluations (greedy derivation, pool scores).
They run on a fixed random subset of the validation users (``search.proxy_users``), and the supernet
with α one-hot skips the candidates of weight 0 when no gradient is needed, so that a large catalog
does not spend the selection's budget on them; candidates still train and compete on every user."""
import dataclasses
import logging

import pytest
import torch

from darts_gnn import SampledEvaluator
from darts_gnn.config import ConfigError, load_config
from darts_gnn.data import Graph, load_dataset
from darts_gnn.nn.models import build_model
from darts_gnn.pipeline import run_search
from darts_gnn.search.pool import one_shot_scores, proxy_evaluator, sample_genotypes
from darts_gnn.tasks.metrics import Evaluator
import darts_gnn.space.mixed as mixed_mod
from darts_gnn.search import SuperNet
from darts_gnn.space.registry import SearchSpace
from helpers import tiny

TINY = ["data.synthetic.n_users=90", "data.synthetic.n_items=70", "data.synthetic.interactions_per_user=10",
        "data.split=random", "train.epochs=2", "train.batch_size=256", "train.progress=false",
        "train.eval_every=1", "model.dim=8", "model.n_layers=1"]


@pytest.fixture(scope="module")
def data():
    cfg = load_config(None, TINY)
    ds = load_dataset(cfg.data)
    torch.manual_seed(0)
    model = build_model(cfg.model, ds, Graph.from_dataset(ds, "train"))
    return cfg, ds, model, Evaluator(ds, ks=(20,))


def test_sampled_evaluator_scores_a_fixed_seeded_subset(data):
    cfg, ds, model, ev = data
    every = ev.users("valid")
    assert every.numel() > 20
    a, b = SampledEvaluator(ev, 20, seed=3), SampledEvaluator(ev, 20, seed=3)
    sub = a.users("valid")
    assert sub.numel() == 20 and torch.equal(sub, b.users("valid"))       # same seed, same users
    assert bool((sub[1:] > sub[:-1]).all()) and set(sub.tolist()) <= set(every.tolist())
    assert not torch.equal(sub, SampledEvaluator(ev, 20, seed=4).users("valid"))
    # its metrics are the mean of the full evaluator's per-user values over exactly those users
    full = ev.per_user(model, "valid")["recall@20"]
    pos = torch.searchsorted(every, sub)
    assert a.evaluate(model, "valid")["recall@20"] == pytest.approx(float(full[pos].mean()))
    # a split with fewer users than the cap is evaluated whole
    whole = SampledEvaluator(ev, 10 ** 6)
    assert whole.evaluate(model, "valid") == pytest.approx(ev.evaluate(model, "valid"))
    with pytest.raises(ValueError, match="max_users"):
        SampledEvaluator(ev, 0)


def test_proxy_evaluator_follows_the_config_and_logs_the_choice(data):
    cfg, ds, model, ev = data
    n = int(ev.users("valid").numel())
    said = []
    small = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, proxy_users=n - 5))
    prox = proxy_evaluator(small, ev, said.append)
    assert isinstance(prox, SampledEvaluator) and prox.users("valid").numel() == n - 5
    assert said and f"{n - 5} of the {n} validation users" in said[0]
    for cap in (None, n):          # off, or not more users than the cap: the evaluator itself, silently
        said.clear()
        same = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, proxy_users=cap))
        assert proxy_evaluator(same, ev, said.append) is ev and not said
    with pytest.raises(ConfigError, match="search.proxy_users"):
        load_config(None, ["search.proxy_users=0"])


def test_search_scores_one_shot_on_the_subset(caplog):
    cfg = load_config(None, TINY + ["search.epochs=1", "search.derive=greedy", "search.select_pool=2",
                                    "search.select_samples=4", "search.select_incumbent=false",
                                    "search.proxy_users=25", "search.retrain=true"])
    with caplog.at_level(logging.INFO, logger="darts_gnn.search"):
        report = run_search(cfg)
    assert any("search.proxy_users" in r.getMessage() for r in caplog.records)
    ds = load_dataset(cfg.data)
    ev = Evaluator(ds, ks=tuple(cfg.train.ks))
    sub = SampledEvaluator(ev, 25, seed=cfg.train.seed)
    pool = report.diagnostics["pool_one_shot"]
    assert pool
    # every pool score is the supernet's one-shot score on the 25 users (the search's α restored)
    for g in {c.genotype.with_(recipe=None, norm=False) for c in report.selection.candidates}:
        if g.summary() in pool:
            assert one_shot_scores(report.supernet, [g], sub)[g] == pytest.approx(pool[g.summary()])


@pytest.mark.parametrize("scale_norm", ["rms", "none"])
def test_one_hot_supernet_computes_only_the_chosen_candidates_without_autograd(scale_norm, monkeypatch):
    _, graph = tiny()
    torch.manual_seed(0)
    net = SuperNet(SearchSpace(n_layers=2, widths=[8], aggregators=["gcn", "sum", "mean"],
                               transforms=["identity", "linear"]), graph, scale_norm=scale_norm)
    net.eval()
    g = next(x for x in sample_genotypes(net, 40, seed=1)
             if x.depth == 2 and sum(layer.transform == "linear" for layer in x.layers) == 1)
    net.set_genotype(g)
    calls, linear_runs = [], []
    for name in ("aggregate_stack", "mixed_aggregate"):     # the ops tuple is the last argument of both
        real = getattr(mixed_mod, name)
        monkeypatch.setattr(mixed_mod, name, lambda *a, _r=real: calls.append(a[-1]) or _r(*a))
    for layer in net.layers:
        layer.transform.ops[1].register_forward_hook(lambda *a: linear_runs.append(1))
    with torch.no_grad():
        u, i = net.embeddings()
    assert len(calls) == 2 and all(len(ops) == 1 for ops in calls)     # one aggregator per layer
    assert len(linear_runs) == 1                                        # only the chosen transform
    calls.clear()
    with torch.enable_grad():                                           # autograd: every candidate
        u2, i2 = net.embeddings()
    assert len(calls) == 2 and all(len(ops) == 3 for ops in calls) and len(linear_runs) == 3
    assert torch.equal(u, u2.detach()) and torch.equal(i, i2.detach())  # the same numbers
