"""Search strategies (issue 8): one interface and result type, budgets, registries, α out of parameters()."""
import dataclasses
import json
import random
from dataclasses import dataclass

import pytest
import torch

from darts_gnn.config import ConfigError, load_config
from darts_gnn.space.genotype import Genotype
from darts_gnn.registries import MODELS, STRATEGIES
from darts_gnn.search import SuperNet
from darts_gnn.search.evolution import mutate, sample_from_probabilities
from darts_gnn.search.relax import GumbelRelaxation
from darts_gnn.search.rl import Controller, LSTMController
from darts_gnn.search.strategy import (SearchContext, SearchStrategy, StrategyResult, register_strategy,
                                       run_strategy, strategy_names)
from darts_gnn.space.registry import SearchSpace

TINY = ["data.synthetic.n_users=80", "data.synthetic.n_items=110", "data.synthetic.interactions_per_user=10",
        "data.synthetic.n_communities=4", "train.epochs=2", "train.eval_every=1", "train.batch_size=256",
        "train.progress=false", "train.num_threads=1", "search.epochs=2", "search.warmup_epochs=0",
        "search.n_layers=2", "search.eval_every=0", "search.log_every=0", "search.batch_size=256",
        "search.random.samples=3", "search.random.child_epochs=1", "search.evolution.population=3",
        "search.evolution.sample_size=2", "search.evolution.cycles=3", "search.evolution.child_epochs=1",
        "search.rl.episodes=4", "search.rl.child_epochs=1"]


@pytest.fixture(scope="module")
def data():
    ctx = SearchContext.from_config(load_config(None, TINY))
    return ctx.dataset, ctx.graph


def context(data, *overrides: str) -> SearchContext:
    ds, graph = data
    return SearchContext.from_config(load_config(None, TINY + list(overrides)), ds, graph)


# --------------------------------------------------------------------------- α apart from the weights

def test_adam_over_parameters_cannot_move_alpha(data):
    _, graph = data
    torch.manual_seed(0)
    net = SuperNet(SearchSpace(n_layers=2), graph)
    with torch.no_grad():
        for a in net.arch_parameters():
            a.normal_(0, 0.5)
    alpha = [a.detach().clone() for a in net.arch_parameters()]
    weights = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    u, i = net.embeddings()
    loss = torch.nn.functional.softplus((u[:20] * i[20:40]).sum(-1) - (u[:20] * i[:20]).sum(-1)).mean()
    loss.backward()
    opt.step()
    # α received a gradient, yet a generic loop over parameters() leaves it where it was
    assert any(a.grad is not None and a.grad.abs().sum() > 0 for a in net.arch_parameters())
    assert all(torch.equal(a, b) for a, b in zip(net.arch_parameters(), alpha))
    assert any(not torch.equal(p, w) for p, w in zip(net.parameters(), weights))
    # ... but α is saved with the model, loads back, and stays a trainable leaf after a dtype move
    state = net.state_dict()
    assert all(f"alpha.{k}" in state for k in range(len(alpha)))
    other = SuperNet(SearchSpace(n_layers=2), graph)
    other.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(other.arch_parameters(), alpha))
    other.double()
    assert all(a.is_leaf and a.requires_grad and a.dtype == torch.float64 for a in other.arch_parameters())


def test_the_architect_alone_steps_alpha(data):
    ctx = context(data)
    from darts_gnn.search.darts import build_darts_searcher
    s = build_darts_searcher(ctx.cfg, ctx.dataset, ctx.graph, progress=False)
    alpha_ids = {id(a) for a in s.model.arch_parameters()}
    assert {id(p) for g in s.architect.optimizer.param_groups for p in g["params"]} == alpha_ids
    assert not alpha_ids & {id(p) for g in s.w_optimizer.param_groups for p in g["params"]}
    before = [a.detach().clone() for a in s.model.arch_parameters()]
    s.run(until=1)
    assert any(not torch.equal(a, b) for a, b in zip(s.model.arch_parameters(), before))


# --------------------------------------------------------------------------- registries and config

def test_builtin_strategies_are_registered_and_checked_at_load():
    assert set(strategy_names()) >= {"darts", "random", "evolution", "rl"}
    with pytest.raises(ConfigError, match=r"search.strategy: got 'nope'; allowed values: darts, random"):
        load_config(None, ["search.strategy=nope"])
    with pytest.raises(ConfigError, match=r"search.evolution.sample_size"):
        load_config(None, ["search.evolution.population=3", "search.evolution.sample_size=4"])
    with pytest.raises(ConfigError, match=r"unknown key 'search.rl.gamma'"):
        load_config(None, ["search.rl.gamma=0.9"])
    with pytest.raises(ConfigError, match=r"search.options: the random strategy takes no search.options"):
        load_config(None, ["search.strategy=random", "search.options={a: 1}"])


@dataclass
class FixedOptions:
    width: int = 16


class FixedStrategy(SearchStrategy):
    """A strategy of one architecture: MF of ``search.options.width``."""

    def search(self) -> StrategyResult:
        return StrategyResult(Genotype.mf(self.options.width), [], seconds=0.0, epochs=0)


def test_a_registered_strategy_is_usable_from_yaml_with_its_own_options(data, tmp_path):
    register_strategy("fixed", FixedStrategy, options=FixedOptions)
    try:
        path = tmp_path / "c.yaml"
        path.write_text("search:\n  strategy: fixed\n  options:\n    width: 32\n")
        cfg = load_config(path)
        ds, graph = data
        res = run_strategy(SearchContext.from_config(cfg, ds, graph))
        assert res.genotype == Genotype.mf(32) and res.candidates == [Genotype.mf(32)]
        with pytest.raises(ConfigError, match=r"unknown key 'search.options.depth'"):
            load_config(None, ["search.strategy=fixed", "search.options={depth: 2}"])
        with pytest.raises(ConfigError, match=r"search.options.width: expected an integer"):
            load_config(None, ["search.strategy=fixed", "search.options={width: wide}"])
        with pytest.raises(ValueError, match="already registered"):
            register_strategy("fixed", FixedStrategy)
    finally:
        STRATEGIES.unregister("fixed")
    with pytest.raises(ConfigError, match="search.strategy"):
        load_config(None, ["search.strategy=fixed"])


def test_a_registered_model_is_usable_from_yaml(data):
    from darts_gnn.nn.models import build_model, register_model
    from darts_gnn.nn import MF
    register_model("mf_wide", lambda cfg, ds, graph: MF(ds.n_users, ds.n_items, dim=2 * cfg.dim), needs_graph=False)
    try:
        cfg = load_config(None, ["model.name=mf_wide", "model.dim=8"])
        ds, _ = data
        assert build_model(cfg.model, ds).user_emb.weight.shape == (ds.n_users, 16)
    finally:
        MODELS.unregister("mf_wide")
    with pytest.raises(ConfigError, match=r"model.name: got 'mf_wide'; allowed values: mf, lightgcn, ngcf"):
        load_config(None, ["model.name=mf_wide"])


def test_relaxation_section_is_validated_by_the_relaxation(data):
    from darts_gnn.search.darts import build_darts_searcher
    cfg = load_config(None, TINY + ["search.relaxation={name: gumbel, tau_max: 4.0, hard: false}"])
    ds, graph = data
    relax = build_darts_searcher(cfg, ds, graph, progress=False).model.relaxation
    assert isinstance(relax, GumbelRelaxation) and relax.tau_max == 4.0 and relax.hard is False
    assert relax.tau_min == 0.1  # the flat key's default still applies to options the section leaves out
    flat = load_config(None, TINY + ["search.relaxation=gumbel", "search.tau_max=3.0"])
    assert build_darts_searcher(flat, ds, graph, progress=False).model.relaxation.tau_max == 3.0
    for bad, needle in [("{name: sigmoid, tau_max: 1}", "unknown key 'search.relaxation.tau_max'"),
                        ("{name: gumbel, tau_min: 0}", "need tau_max >= tau_min > 0"),
                        ("{tau_max: 1}", "search.relaxation.name: got None"),
                        ("fancy", "search.relaxation: got 'fancy'")]:
        with pytest.raises(ConfigError, match=None) as e:
            load_config(None, [f"search.relaxation={bad}"])
        assert needle in str(e.value)


# --------------------------------------------------------------------------- the strategies

@pytest.mark.parametrize("name", ["random", "evolution", "rl"])
def test_candidate_strategies_one_result_valid_only_and_seeded(name, data, evaluated_splits):
    splits = evaluated_splits
    ctx = context(data, f"search.strategy={name}")
    res = run_strategy(ctx)
    assert isinstance(res, StrategyResult) and res.seconds > 0
    assert set(splits) == {"valid"}  # the test split never chooses anything
    assert res.candidates[0] == res.genotype and len(set(res.candidates)) == len(res.candidates)
    space = ctx.space()
    assert all(space.contains(g) for g in res.candidates)
    score = {}
    for r in res.history:
        score[Genotype.from_dict(r["genotype"])] = r["score"]
    ranked = [score[g] for g in res.candidates]
    assert ranked == sorted(ranked, reverse=True) and len(ranked) == len(score)
    # each distinct candidate was trained once, and the epochs are all counted
    assert res.epochs == len(score) * 1
    again = run_strategy(context(data, f"search.strategy={name}"))
    assert [r["score"] for r in again.history] == [r["score"] for r in res.history]
    assert again.candidates == res.candidates


def test_lstm_controller_runs_seeded(data):
    a = run_strategy(context(data, "search.strategy=rl", "search.rl.controller=lstm", "search.rl.hidden=8"))
    b = run_strategy(context(data, "search.strategy=rl", "search.rl.controller=lstm", "search.rl.hidden=8"))
    assert [r["score"] for r in a.history] == [r["score"] for r in b.history] and len(a.history) == 4
    assert "depth" in a.extra["controller"]
    with pytest.raises(ConfigError, match="search.rl.controller: expected logits or lstm"):
        load_config(None, ["search.rl.controller=gru"])


def test_budget_in_epochs_stops_evolution_and_rl(data):
    for name in ("evolution", "rl"):
        ctx = context(data, f"search.strategy={name}", "search.budget_epochs=5", "search.evolution.cycles=null",
                      "search.rl.episodes=null", "search.evolution.child_epochs=2", "search.rl.child_epochs=2")
        res = run_strategy(ctx)
        assert 5 <= res.epochs <= 6, name  # the candidate in progress finishes
    from darts_gnn.errors import UserError
    with pytest.raises(UserError, match="'rl' cannot resume"):
        ctx = context(data, "search.strategy=rl")
        run_strategy(dataclasses.replace(ctx, resume=True))
    with pytest.raises(ValueError, match="search.evolution.cycles is null"):
        run_strategy(context(data, "search.strategy=evolution", "search.evolution.cycles=null"))


def test_mutation_changes_a_choice_and_stays_in_space():
    space = SearchSpace(n_layers=3)
    rng = random.Random(0)
    g = Genotype.lightgcn(3, 64)
    for _ in range(200):
        child = mutate(g, space, rng, rate=0.1)
        assert child != g and space.contains(child)
        g = child


def test_warm_start_draws_from_alpha(data):
    space = SearchSpace(n_layers=2)
    target = Genotype.lightgcn(2, 32)
    net = SuperNet(space, data[1])
    net.set_genotype(target)
    rng = random.Random(0)
    assert {sample_from_probabilities(space, net.probabilities(), rng) for _ in range(5)} == {target}
    res = run_strategy(context(data, "search.strategy=evolution", "search.evolution.warm_start=true"))
    assert res.epochs == 2 + len(res.candidates)  # supernet epochs + one epoch per child
    # the budget also bounds the supernet; one genotype is still scored
    short = run_strategy(context(data, "search.strategy=evolution", "search.evolution.warm_start=true",
                                 "search.epochs=5", "search.budget_epochs=3"))
    assert short.epochs == 4 and len(short.candidates) == 1


@pytest.mark.parametrize("kind", ["logits", "lstm"])
def test_reinforce_step_moves_the_policy_towards_a_rewarded_architecture(kind):
    space = SearchSpace(n_layers=2)
    torch.manual_seed(0)
    ctl = Controller(space) if kind == "logits" else LSTMController(space, hidden=8)
    g, logp, ent = ctl.sample(torch.Generator().manual_seed(0))
    assert torch.allclose(logp, ctl.log_prob(g)) and ent > 0
    before = float(ctl.log_prob(g).detach())
    opt = torch.optim.Adam(ctl.parameters(), lr=0.1)
    (-(1.0 - 0.2) * ctl.log_prob(g)).backward()
    opt.step()
    assert float(ctl.log_prob(g).detach()) > before


# --------------------------------------------------------------------------- DARTS, pipeline, CLI

def test_darts_strategy_result_and_budget(data):
    res = run_strategy(context(data))
    assert res.epochs == 2 and len(res.history) == 2 and res.extra["trajectory"]
    assert res.candidates[0] == res.genotype and res.extra["argmax"]
    short = run_strategy(context(data, "search.budget_epochs=1"))
    assert short.epochs == 1 and short.extra["stopped_early"]


def test_search_cli_dispatches_by_name(tmp_path, capsys):
    from darts_gnn.cli import main
    sets = [x for s in TINY for x in ("--set", s)]
    out = tmp_path / "rl"
    assert main(["search", "--out", str(out), *sets, "--set", "search.strategy=rl"]) == 0
    assert "found architecture" in capsys.readouterr().out
    search = json.loads((out / "search.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["strategy"] == "rl" and 0 <= metrics["recall@20"] <= 1
    assert search["epochs"] == metrics["search_epochs"] > 0 and search["candidates"][0] == search["genotype"]
    # genotype.json holds what was retrained: the validated selection's winner over the strategy's pool
    assert Genotype.load(out / "genotype.json").to_dict() == metrics["genotype"]
    assert main(["search", "--out", str(tmp_path / "x"), *sets, "--set", "search.strategy=annealing"]) == 2
    assert "search.strategy: got 'annealing'" in capsys.readouterr().err


def test_compare_runs_any_list_of_strategies_at_equal_budget(data):
    from darts_gnn.experiments.compare import run_compare
    ds, graph = data
    cfg = load_config(None, TINY)
    rep = run_compare(cfg, seeds=[0], methods=["darts-softmax", "evolution", "rl", "mf"], random_samples=2,
                      dataset=ds, graph=graph)
    by = {r["method"]: r for r in rep["rows"]}
    darts = by["darts-softmax"]["search_seconds"]
    for m in ("evolution", "rl"):
        assert by[m]["budget_seconds"] == pytest.approx(darts) and by[m]["strategy"] == m
        assert by[m]["search_epochs"] >= 1 and by[m]["trials"]
    assert by["mf"]["search_seconds"] == 0.0
    with pytest.raises(ValueError, match="unknown method 'annealing'"):
        run_compare(cfg, seeds=[0], methods=["annealing"], dataset=ds, graph=graph)
    from darts_gnn.cli import main
    assert main(["compare", "--methods", "mf", "darts-fancy", "--seeds", "1"]) == 2
    assert dataclasses.is_dataclass(cfg.search.evolution)
