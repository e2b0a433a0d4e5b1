"""Issue 9: scale-normalised mixtures, propagation variants, output norm and recipes in genotypes."""
import json

import pytest
import torch

from darts_gnn.config import ConfigError, load_config
from darts_gnn.space.genotype import Genotype
from darts_gnn.space.candidates import GCNAggregate
from darts_gnn.space.mixed import MixedAggregate, MixedCombine, MixedSkip, rms
from darts_gnn.nn.propagation import EdgeDropAggregate, ExponentAggregate, SelfLoopAggregate
from darts_gnn.search import SuperNet
from darts_gnn.search.recipe import Recipe, RecipeTrainer, recipe_train_config
from darts_gnn.space.registry import REGISTRY, SearchSpace, SpaceError
from darts_gnn.engine.train import Trainer
from helpers import tiny


def dense_adj(graph):
    a = torch.zeros(graph.num_nodes, graph.num_nodes)
    a[graph.row, graph.col] = 1.0
    return a


# ---------------------------------------------------------------- scale normalisation
def test_rms_policy_gives_every_aggregator_the_input_scale():
    _, graph = tiny()
    torch.manual_seed(0)
    x = torch.randn(graph.num_nodes, 8)
    w = torch.tensor([0.5, 0.5])
    raw = MixedAggregate(["gcn", "sum"], 8, REGISTRY, "none")(graph, x, w)
    fair = MixedAggregate(["gcn", "sum"], 8, REGISTRY, "rms")(graph, x, w)
    gcn, total = GCNAggregate()(graph, x), REGISTRY.get("aggregator", "sum").build(8)(graph, x)
    assert rms(total) > 5 * rms(gcn)                     # the imbalance the policy removes
    assert torch.allclose(raw, 0.5 * gcn + 0.5 * total, atol=1e-5)
    expect = 0.5 * gcn * (rms(x) / rms(gcn)) + 0.5 * total * (rms(x) / rms(total))
    assert torch.allclose(fair, expect, atol=1e-5)


def test_rms_policy_on_skips_and_combines_and_bad_policy():
    torch.manual_seed(0)
    x_in, x_out = torch.randn(10, 4), 0.01 * torch.randn(10, 4)
    skip = MixedSkip(["none", "residual"], 4, REGISTRY, "rms")
    out = skip(x_in, x_out, torch.tensor([1.0, 0.0]))
    assert torch.allclose(rms(out), rms(x_in), rtol=1e-4)   # the tiny 'none' output is brought to scale
    comb = MixedCombine(["mean", "sum"], [1, 2], 4, REGISTRY, "rms")
    hs = [torch.randn(10, 4) for _ in range(3)]
    y = comb(hs, torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]))
    assert torch.allclose(rms(y), rms(hs[0]), rtol=1e-4)
    with pytest.raises(ValueError, match="scale_norm"):
        MixedSkip(["none"], 4, REGISTRY, "batchnorm")


def test_supernet_rms_gets_alpha_gradients_and_config_rejects_bad_policy():
    _, graph = tiny()
    torch.manual_seed(0)
    net = SuperNet(SearchSpace(n_layers=2, widths=[8]), graph, scale_norm="rms")
    u, i = net.embeddings()
    (u.sum() + i.pow(2).sum()).backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in net.arch_parameters())
    with pytest.raises(ConfigError, match="search.scale_norm"):
        load_config(None, ["search.scale_norm=bn"])
    with pytest.raises(ConfigError, match="search.width_search"):
        load_config(None, ["search.width_search=shared"])


def test_width_fixed_by_default_masked_on_request():
    from darts_gnn.search import build_searcher
    ds, graph = tiny()
    over = ["search.space={widths: [8, 16]}", "model.dim=16", "search.n_layers=1"]
    fixed = build_searcher(load_config(None, over), ds, graph, progress=False).model
    masked = build_searcher(load_config(None, over + ["search.width_search=masked"]), ds, graph,
                            progress=False).model
    assert fixed.space.widths == [16] and "width" not in fixed.choice_keys
    assert masked.space.widths == [8, 16] and "width" in masked.choice_keys


# ---------------------------------------------------------------- propagation variants
def test_exponent_self_loop_and_edge_drop_match_their_formulas():
    _, graph = tiny()
    torch.manual_seed(0)
    x = torch.randn(graph.num_nodes, 5)
    a = dense_adj(graph)
    d = a.sum(1).clamp_min(1)
    expo = torch.diag(d ** -0.25) @ a @ torch.diag(d ** -0.75)
    assert torch.allclose(ExponentAggregate(5, 0.25)(graph, x), expo @ x, atol=1e-5)
    assert torch.allclose(ExponentAggregate(5, 0.5)(graph, x), GCNAggregate()(graph, x), atol=1e-5)
    dt = (a.sum(1) + 1.0) ** -0.5
    loop = torch.diag(dt) @ (a + torch.eye(len(a))) @ torch.diag(dt)
    assert torch.allclose(SelfLoopAggregate(5)(graph, x), loop @ x, atol=1e-5)
    drop = EdgeDropAggregate(5, p=0.5)
    drop.eval()
    assert torch.allclose(drop(graph, x), GCNAggregate()(graph, x), atol=1e-5)
    drop.train()
    torch.manual_seed(1)
    y1 = drop(graph, x)
    assert not torch.allclose(y1, GCNAggregate()(graph, x), atol=1e-3)
    for bad in (lambda: ExponentAggregate(5, 1.5), lambda: EdgeDropAggregate(5, 1.0)):
        with pytest.raises(ValueError):
            bad()
    for name in ("gcn_a25", "gcn_a75", "gcn_self", "gcn_drop"):
        assert ("aggregator", name) in REGISTRY


# ---------------------------------------------------------------- genotype: norm and recipe
def test_genotype_norm_and_recipe_round_trip_and_old_files_load(tmp_path):
    g = Genotype.lightgcn(2, 8).with_(norm=True, recipe=Recipe(loss="softmax", negatives=8, temperature=0.2,
                                                               lr=5e-3, l2=1e-3))
    d = g.to_dict()
    assert d["norm"] is True and d["recipe"]["negatives"] == 8 and "norm" in g.summary()
    g.save(tmp_path / "g.json")
    assert Genotype.load(tmp_path / "g.json") == g
    plain = Genotype.lightgcn(2, 8)
    assert "norm" not in plain.to_dict() and "recipe" not in plain.to_dict()
    assert plain.with_(recipe=Recipe()) == plain               # the default recipe is no recipe
    old = {"version": 1, "depth": 0, "width": 8, "combine": "mean", "layers": []}
    assert Genotype.from_json(json.dumps(old)) == Genotype.mf(8)
    with pytest.raises(SpaceError, match="recipe.loss"):
        Genotype.from_dict({**old, "recipe": {"loss": "hinge"}})
    with pytest.raises(SpaceError, match="recipe: unknown"):
        Genotype.from_dict({**old, "recipe": {"momentum": 0.9}})


def test_norm_genotype_scores_are_cosines():
    ds, graph = tiny()
    torch.manual_seed(0)
    m = Genotype.lightgcn(2, 8).with_(norm=True).build_model(ds, graph)
    u, i = m.embeddings()
    assert torch.allclose(u.norm(dim=1), torch.ones(len(u)), atol=1e-5)


# ---------------------------------------------------------------- recipes
def _loss(trainer_cls, recipe, cfg, ds, graph):
    torch.manual_seed(0)
    model = Genotype.lightgcn(2, 8).build_model(ds, graph)
    kw = {"recipe": recipe} if recipe is not None else {}
    t = trainer_cls(model, ds, recipe_train_config(cfg.train, recipe or Recipe()), **kw)
    users, pos, neg = next(iter(t.sampler))
    return t.loss(users, pos, neg)


def test_default_recipe_is_the_trainer_loss_and_others_differ():
    ds, graph = tiny()
    cfg = load_config(None, ["train.batch_size=64"])
    base = _loss(Trainer, None, cfg, ds, graph)
    assert torch.equal(_loss(RecipeTrainer, Recipe(), cfg, ds, graph), base)
    soft = _loss(RecipeTrainer, Recipe(loss="softmax", negatives=8, temperature=0.5), cfg, ds, graph)
    many = _loss(RecipeTrainer, Recipe(negatives=8), cfg, ds, graph)
    assert torch.isfinite(soft) and torch.isfinite(many) and not torch.equal(soft, base)
    assert torch.equal(many, _loss(RecipeTrainer, Recipe(negatives=8), cfg, ds, graph))  # seeded negatives
    tc = recipe_train_config(cfg.train, Recipe(lr=0.01, l2=0.0))
    assert (tc.lr, tc.l2) == (0.01, 0.0)
    with pytest.raises(SpaceError, match="recipe.negatives"):
        Recipe(negatives=0)
