"""Issue 9 (session 7): the supernet searched under the recipe that wins on the baseline point
(``search.supernet_objective: lead``) — the searcher's softmax objective on cosine scores, its
step-keyed negatives, and the lead stage run once, before the search."""
import torch

import darts_gnn.pipeline as pipeline_mod
from darts_gnn.config import ConfigError, load_config
from darts_gnn.pipeline import run_search
from darts_gnn.search import build_searcher
from darts_gnn.search.recipe import Recipe, objective_loss, step_negatives
from darts_gnn.search.select import INCUMBENT
from tests.helpers import tiny
from test_incumbent import TINY

SOFTMAX = Recipe(loss="softmax", negatives=8, temperature=0.2)


def _searcher(seed=0):
    ds, graph = tiny()
    cfg = load_config(None, ["search.epochs=3", "search.warmup_epochs=1", "search.batch_size=64",
                             f"search.seed={seed}", "model.dim=8", "search.n_layers=2"])
    return build_searcher(cfg, ds, graph, progress=False), ds


def test_step_negatives_are_a_function_of_the_step_alone():
    a, b = step_negatives(40, 3, 2, 5).draw(7), step_negatives(40, 3, 2, 5).draw(7)
    assert torch.equal(a, b) and a.unique().numel() == 7
    others = [step_negatives(40, 3, 2, s).draw(7) for s in range(6, 10)] + [step_negatives(40, 3, 2, 5, 1).draw(7)]
    assert any(not torch.equal(a, o) for o in others)


def test_searcher_objective_is_the_recipes_loss_on_cosine_scores():
    s, ds = _searcher()
    bpr = s.train_loss(next(iter(s.train_sampler.epoch(0))))
    s.set_objective(SOFTMAX, norm=True)
    assert s.objective == SOFTMAX and s.model.out_norm
    u, i = s.model.embeddings()
    assert torch.allclose(u.norm(dim=-1), torch.ones(len(u)), atol=1e-5)
    batch = next(iter(s.train_sampler.epoch(0)))
    s._step_key = (0, 0)
    ref = objective_loss(u, i, batch, SOFTMAX, step_negatives(s.model.n_items, s.seed, 0, 0, 0))
    assert s.l2 > 0 and float(s.train_loss(batch).detach()) > float(ref.detach())   # + L2 on the ego rows
    assert torch.allclose(s.valid_loss(batch), objective_loss(u, i, batch, SOFTMAX, step_negatives(
        s.model.n_items, s.seed, 0, 0, 1)) + s.model.arch_regularizer())
    assert float(s.train_loss(batch).detach()) != float(bpr.detach())
    s.set_objective(Recipe(), norm=False)                       # plain BPR: back to the default
    assert s.objective is None and not s.model.out_norm


def test_searcher_under_the_softmax_objective_is_repeatable_and_moves_alpha():
    runs = []
    for _ in range(2):
        s, _ = _searcher(seed=4)
        s.set_objective(SOFTMAX, norm=True)
        start = [a.detach().clone() for a in s.model.arch_parameters()]
        s.run()
        runs.append([a.detach().clone() for a in s.model.arch_parameters()])
        assert any(not torch.equal(a, b) for a, b in zip(start, runs[-1]))
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_lead_stage_runs_before_the_search_and_is_not_trained_again(monkeypatch):
    grid = "search.select_recipes=[{lr: 0.005}, {loss: softmax, negatives: 8, temperature: 0.2, norm: true}]"
    cfg = load_config(None, TINY + ["search.epochs=2", "search.select_pool=2", "search.select_samples=4",
                                    "search.supernet_objective=lead", grid])
    seen = {}
    real = pipeline_mod.lead_stage

    def spy(*a, **k):
        seen["runs"], seen["lead"] = real(*a, **k)
        return seen["runs"], seen["lead"]
    monkeypatch.setattr(pipeline_mod, "lead_stage", spy)
    rep = run_search(cfg, progress=False)
    runs, lead = seen["runs"], seen["lead"]
    assert [c.genotype.recipe.loss for c in runs] == ["softmax"]     # the short BPR run is the incumbent's
    sel = rep.selection
    assert all(any(c is r for c in sel.candidates) for r in runs)    # handed over, not trained again
    assert len({c.genotype for c in sel.candidates}) == len(sel.candidates)
    assert sel.candidates[0].stage == INCUMBENT
    assert rep.supernet.out_norm == (lead is not None)
    assert rep.diagnostics["selection_seconds"] >= sel.candidates[0].seconds + runs[0].seconds
    with_lead = [c for c in sel.candidates if c.stage == "architecture"]
    if lead is not None:
        assert all(c.genotype.recipe == lead[0] and c.genotype.norm for c in with_lead)


def test_supernet_objective_config_is_checked():
    assert load_config(None, []).search.supernet_objective == "bpr"
    try:
        load_config(None, ["search.supernet_objective=softmax"])
    except ConfigError as e:
        assert "search.supernet_objective" in str(e) and "bpr or lead" in str(e)
    else:
        raise AssertionError("an unknown objective was accepted")
