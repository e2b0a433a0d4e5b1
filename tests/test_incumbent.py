"""Issue 9 (session 5): the incumbent of the selection — the baseline model under the ``train``
section's own recipe and full protocol. Every candidate must beat it on validation; the
``--compare-baseline`` run is reused for it, and its time counts in the search's budget."""
import dataclasses
import math

import pytest
import torch

import darts_gnn.search.pool as pool_mod
import darts_gnn.search.select as select_mod
from darts_gnn.config import ConfigError, load_config
from darts_gnn.data import Graph, load_dataset
from darts_gnn.pipeline import run_search
from darts_gnn.space.genotype import Genotype
from darts_gnn.search.finish import select_after_strategy
from darts_gnn.search.pool import incumbent_candidate, reference_and_incumbent
from darts_gnn.search.paired import incumbent_holds, paired_gain
from darts_gnn.search.recipe import Recipe
from darts_gnn.search.select import INCUMBENT, Candidate, select_genotype
from darts_gnn.search.selection_result import RESOLUTION_WARN
from darts_gnn.search.strategy import SearchContext, run_strategy
from darts_gnn.tasks.metrics import Evaluator
from test_strategies import TINY as STRATEGY_TINY

TINY = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
        "data.split=random", "train.epochs=3", "train.batch_size=256", "train.progress=false",
        "train.eval_every=1", "search.select_patience=1", "model.dim=16", "model.n_layers=2"]


@pytest.fixture(scope="module")
def data():
    cfg = load_config(None, TINY)
    ds = load_dataset(cfg.data)
    return cfg, ds, Graph.from_dataset(ds, "train"), Evaluator(ds, ks=(20,))


def _no_training(*a, **k):
    raise AssertionError("the incumbent was trained although the baseline run was given")


def test_incumbent_reuses_the_baseline_run_without_training(data, monkeypatch):
    cfg, ds, graph, ev = data
    monkeypatch.setattr(pool_mod, "train_candidate", _no_training)
    run = {"best_valid": {"recall@20": 0.4, "ndcg@20": 0.3}, "train_seconds": 7.5, "epochs": 3}
    inc = incumbent_candidate(cfg, ds, graph, ev, run)
    assert inc.stage == INCUMBENT and inc.seconds == 7.5 and inc.epochs == 3
    assert inc.score("recall@20") == 0.4
    # the baseline point with the train section's lr; L2 left to the train section
    assert inc.genotype == Genotype.lightgcn(2, 16).with_(recipe=Recipe(lr=cfg.train.lr))
    assert reference_and_incumbent(cfg, ds, graph, ev, run) == (7.5, inc)


def test_incumbent_is_trained_when_no_run_is_given_and_is_the_reference(data):
    cfg, ds, graph, ev = data
    ref, inc = reference_and_incumbent(cfg, ds, graph, ev)
    assert inc is not None and inc.stage == INCUMBENT and 0 < inc.epochs <= cfg.train.epochs
    assert ref == inc.seconds > 0 and 0 <= inc.score("recall@20") <= 1
    off = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, select_incumbent=False))
    assert incumbent_candidate(off, ds, graph, ev) is None
    ngcf = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name="ngcf"))
    assert incumbent_candidate(ngcf, ds, graph, ev) is None      # not a point of the space


@pytest.mark.parametrize("score,kept", [(1.5, True), (-1.0, False)])
def test_selection_ranks_the_incumbent_with_the_candidates(data, score, kept):
    cfg, ds, graph, ev = data
    g = Genotype.lightgcn(2, 16).with_(recipe=Recipe(lr=cfg.train.lr))
    inc = Candidate(g, {"recall@20": score}, 3.0, 5, stage=INCUMBENT)
    res = select_genotype([Genotype.mf(16)], ds, graph, cfg, ev, recipes=[{"l2": 1e-3}], incumbent=inc)
    assert (res.winner == g) is kept
    assert res.candidates[0] is inc and sum(c.stage == INCUMBENT for c in res.candidates) == 1
    # the recipe grid goes to the search's own best architecture, not to the incumbent
    recipe_stage = [c.genotype for c in res.candidates if c.stage == "recipe"]
    assert [r.with_(recipe=None) for r in recipe_stage] == [Genotype.mf(16)]
    assert "incumbent" in res.table() and res.to_dict()["candidates"][0]["stage"] == INCUMBENT


def test_the_incumbent_time_counts_in_the_budget():
    cfg = load_config(None, STRATEGY_TINY + ["search.strategy=random", "search.select_pool=2",
                                             "search.select_patience=1", "search.total_budget_seconds=30"])
    ctx = SearchContext.from_config(cfg)
    found = run_strategy(ctx)
    run = {"best_valid": {"recall@20": 0.0}, "train_seconds": 29.999, "epochs": 2}
    _, sel, diag = select_after_strategy(cfg, found, ctx.dataset, ctx.graph, ctx.evaluator, baseline=run)
    assert diag["incumbent_seconds"] == 29.999 and diag["selection_seconds"] >= 29.999
    assert sel.skipped > 0          # nothing but the first run fits what the incumbent left


def test_run_search_compare_baseline_reuses_its_run_as_the_incumbent():
    cfg = load_config(None, STRATEGY_TINY + ["search.select_pool=1", "search.select_patience=1",
                                             "search.select_recipe_top=0", "search.select_recipe_baseline=false"])
    rep = run_search(cfg, compare_baseline=True)
    sel = rep.metrics["selection"]
    base = rep.metrics["baseline"]
    inc = [c for c in sel["selection"]["candidates"] if c["stage"] == INCUMBENT]
    assert len(inc) == 1 and inc[0]["valid"] == base["best_valid"]
    assert sel["incumbent_seconds"] == base["train_seconds"] == sel["reference_seconds"]


def test_paired_gain_is_the_mean_difference_and_its_standard_error():
    a = torch.tensor([0.5, 0.2, 0.9, 0.4])
    b = torch.tensor([0.4, 0.2, 0.6, 0.5])
    gain, se = paired_gain(a, b)
    d = (a - b).double()
    assert gain == pytest.approx(float(d.mean())) and se == pytest.approx(float(d.std()) / 2)
    assert math.isnan(paired_gain(a[:1], b[:1])[1])
    with pytest.raises(ValueError, match="same users"):
        paired_gain(a, b[:3])


def _cand(scores, stage="architecture", lr=5e-3):
    pu = torch.tensor(scores, dtype=torch.float64)
    g = Genotype.lightgcn(2, 16).with_(recipe=Recipe(lr=lr))
    return Candidate(g, {"recall@20": float(pu.mean())}, 1.0, 1, stage=stage, per_user=pu)


def test_the_incumbent_holds_unless_the_gain_clears_z_paired_standard_errors():
    inc = _cand([0.3, 0.5, 0.2, 0.6] * 25, INCUMBENT, lr=1e-3)
    noisy = _cand([0.4, 0.4, 0.3, 0.5] * 25)                 # +0.0 mean, large spread: holds
    clear = _cand([0.35, 0.55, 0.25, 0.65] * 25)             # +0.05 for every user: replaces it
    assert incumbent_holds(noisy, inc, 1.645)[0] and not incumbent_holds(clear, inc, 1.645)[0]
    assert not incumbent_holds(noisy, inc, 0.0)[0]           # z = 0: the plain best mean
    no_scores = dataclasses.replace(clear, per_user=None)
    assert incumbent_holds(no_scores, inc, 1.645)[:1] == (False,)
    assert incumbent_holds(inc, inc, 1.645)[0]


def _mf_against_incumbent(data, score: float):
    """``(users, incumbent genotype, incumbent, config with no recipe stage)``: a LightGCN incumbent whose
    valid score and per-user scores are all ``score``, against which MF is selected."""
    cfg, ds, graph, ev = data
    users = ev.users("valid").numel()
    g = Genotype.lightgcn(2, 16).with_(recipe=Recipe(lr=cfg.train.lr))
    inc = Candidate(g, {"recall@20": score}, 3.0, 5, stage=INCUMBENT, per_user=torch.full((users,), score))
    return users, g, inc, dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, select_recipe_top=0))


def test_selection_keeps_the_incumbent_against_a_lead_within_the_noise(data, monkeypatch):
    cfg, ds, graph, ev = data
    users, g, inc, one = _mf_against_incumbent(data, 0.5)
    inc = dataclasses.replace(inc, valid={"recall@20": 0.0})
    noisy = torch.full((users,), 0.5)
    noisy[::2] += 0.2                                        # +0.2 on half the users, -0.199 on the others
    noisy[1::2] -= 0.199
    clear = torch.full((users,), 0.55)                       # +0.05 on every user
    for per_user, kept in ((noisy, True), (clear, False)):
        monkeypatch.setattr(select_mod, "valid_per_user", lambda evaluator, model, v=per_user: v)
        res = select_genotype([Genotype.mf(16)], ds, graph, one, ev, recipes=[], incumbent=inc)
        assert res.paired["kept_incumbent"] is kept and (res.winner == g) is kept
        assert (res.best is inc) is kept
        assert any("is kept" in w for w in res.warnings) is kept


def test_per_user_scores_are_what_the_evaluation_averages(data):
    cfg, ds, graph, ev = data
    model = Genotype.lightgcn(2, 16).build_model(ds, graph)
    per_user = ev.per_user(model, "valid")
    mean = ev.evaluate(model, "valid")
    assert set(per_user) == set(mean)
    for name, v in per_user.items():
        assert v.shape == (ev.users("valid").numel(),)
        assert float(v.mean()) == pytest.approx(mean[name], abs=1e-12)


def test_the_supernet_search_stops_at_search_factor_times_the_reference():
    base = STRATEGY_TINY + ["search.epochs=6", "search.select_pool=1", "search.select_patience=1",
                            "search.select_recipe_top=0", "search.select_recipe_baseline=false"]
    capped = run_search(load_config(None, base + ["search.search_factor=1e-6"]), compare_baseline=True)
    assert capped.search.epochs_run == 1 and capped.search.stopped_early
    free = run_search(load_config(None, base + ["search.search_factor=null"]), compare_baseline=True)
    assert free.search.epochs_run == 6 and not free.search.stopped_early
    with pytest.raises(ConfigError, match="search.search_factor"):
        load_config(None, ["search.search_factor=4", "search.budget_factor=3"])


def _lead_setup(cfg, ev, monkeypatch, incumbent_score: float):
    """``(baseline point, other architecture, incumbent scoring incumbent_score, a three-recipe grid,
    the list every trained genotype is appended to)``."""
    base, other = Genotype.lightgcn(2, 16), Genotype.mf(16)
    inc = Candidate(base.with_(recipe=Recipe(lr=cfg.train.lr)), {"recall@20": incumbent_score}, 1.0, 3,
                    stage=INCUMBENT, per_user=torch.zeros(int(ev.users("valid").numel()), dtype=torch.float64))
    trained = []
    real = select_mod.train_candidate

    def spy(g, *a, **k):
        trained.append(g)
        return real(g, *a, **k)
    monkeypatch.setattr(select_mod, "train_candidate", spy)
    grid = [{"lr": cfg.search.select_lr}, {"loss": "softmax", "negatives": 8, "temperature": 0.2, "norm": True},
            {"l2": 1e-3}]
    return base, other, inc, grid, trained


def test_incumbent_stands_in_for_the_baseline_points_short_bpr_run(data, monkeypatch):
    """With the incumbent (the baseline architecture under the train section's protocol) the baseline
    point is not retrained with the short BPR recipe; it still gets the grid's other recipes, first."""
    cfg, ds, graph, ev = data
    base, other, inc, grid, trained = _lead_setup(cfg, ev, monkeypatch, 0.1)
    cfg = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, select_lead=False))
    res = select_genotype([other, base], ds, graph, cfg, ev, recipes=grid, anchors=[base], incumbent=inc)
    archs = [(g.with_(recipe=None, norm=False), g.recipe.loss, g.recipe.l2) for g in trained]
    assert archs == [(other, "bpr", None),                  # the architecture stage: the baseline skipped
                     (base, "softmax", None), (other, "softmax", None),   # recipe-major, the baseline first
                     (base, "bpr", 1e-3), (other, "bpr", 1e-3)]
    assert res.candidates[0] is inc and len(res.candidates) == 1 + len(trained)
    # without the incumbent the baseline point's short run comes back
    trained.clear()
    select_genotype([other, base], ds, graph, cfg, ev, recipes=grid[:1], anchors=[base])
    assert [g.with_(recipe=None, norm=False) for g in trained] == [other, base]


@pytest.mark.parametrize("incumbent_score", [-1.0, 2.0])
def test_the_recipe_that_wins_on_the_baseline_point_screens_the_pool(data, monkeypatch, incumbent_score):
    """search.select_lead (default on): the baseline point gets the grid's recipes before any other
    architecture; when one of them beats the incumbent, the architecture stage trains the pool with it
    (and its norm); when none does, with the short BPR recipe. Nothing is trained twice."""
    cfg, ds, graph, ev = data
    cfg = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, select_lead_on="baseline"))
    base, other, inc, grid, trained = _lead_setup(cfg, ev, monkeypatch, incumbent_score)
    res = select_genotype([other, base], ds, graph, cfg, ev, recipes=grid, anchors=[base], incumbent=inc)
    assert [g.with_(recipe=None, norm=False) for g in trained[:2]] == [base, base]   # the lead stage first
    assert [(g.recipe.loss, g.recipe.l2) for g in trained[:2]] == [("softmax", None), ("bpr", 1e-3)]
    assert len(set(trained)) == len(trained) and res.candidates[0] is inc
    screened = next(c for c in res.candidates if c.stage == "architecture")
    assert screened.genotype.with_(recipe=None, norm=False) == other
    if incumbent_score < 0:     # an anchor recipe beat the incumbent: it screens the pool
        lead = max(res.candidates[1:3], key=lambda c: c.score("recall@20")).genotype
        assert (screened.genotype.recipe, screened.genotype.norm) == (lead.recipe, lead.norm)
    else:                       # none did: the short BPR recipe
        assert screened.genotype.recipe == Recipe(lr=cfg.search.select_lr) and not screened.genotype.norm


def test_resume_reads_the_incumbent_back_instead_of_training_it(tmp_path, monkeypatch):
    from darts_gnn.engine.rundir import RunDir
    from darts_gnn.errors import UserError
    cfg = load_config(None, TINY + ["search.epochs=1", "search.select_pool=1", "search.select_samples=2",
                                    "search.select_recipes=[{lr: 0.005}]"])
    run = RunDir(tmp_path / "run")
    first = run_search(cfg, run, progress=False)
    assert run.file(pool_mod.INCUMBENT_FILE).exists()
    state = run.load_torch(pool_mod.INCUMBENT_FILE)             # weights_only=True
    ref, inc = pool_mod.incumbent_from_state(state)
    kept = first.selection.candidates[0]
    assert inc.stage == INCUMBENT and inc.genotype == kept.genotype and inc.valid == kept.valid
    assert ref == first.diagnostics["reference_seconds"] and torch.equal(inc.per_user, kept.per_user)
    assert inc.curve == kept.curve and len(inc.curve) == kept.epochs     # the curve cut's reference, too
    monkeypatch.setattr(pool_mod, "train_candidate", _no_training)
    again = run_search(cfg, run, progress=False, resume=True)
    assert again.selection.candidates[0].valid == kept.valid
    assert again.diagnostics["reference_seconds"] == ref
    run.file(pool_mod.INCUMBENT_FILE).write_bytes(b"not a torch file")
    with pytest.raises(UserError, match="incumbent.pt: the selection's incumbent cannot be read"):
        run_search(cfg, run, progress=False, resume=True)


def test_other_strategies_settle_the_incumbent_first_and_search_factor_caps_them(monkeypatch, tmp_path):
    import darts_gnn.pipeline as pipeline
    from darts_gnn.engine.rundir import RunDir
    from darts_gnn.errors import UserError
    events, budgets = [], []
    real_train, real_run = pool_mod.train_candidate, pipeline.run_strategy

    def train(g, *a, **k):
        events.append("incumbent")
        return real_train(g, *a, **k)

    def strategy(ctx, *a, **k):
        events.append("strategy")
        budgets.append(ctx.cfg.search.budget_seconds)
        return real_run(ctx, *a, **k)
    monkeypatch.setattr(pool_mod, "train_candidate", train)
    monkeypatch.setattr(pipeline, "run_strategy", strategy)
    base = STRATEGY_TINY + ["search.strategy=random", "search.select_pool=1", "search.select_patience=1",
                            "search.select_recipes=[{lr: 0.005}]"]
    rep = run_search(load_config(None, base + ["search.search_factor=0.5"]))
    assert events == ["incumbent", "strategy"]
    ref = rep.diagnostics["reference_seconds"]
    assert rep.selection.candidates[0].stage == INCUMBENT and ref == rep.selection.candidates[0].seconds
    assert budgets == [pytest.approx(0.5 * ref)]                    # the strategy's own budget, capped
    events.clear(), budgets.clear()
    run_search(load_config(None, base + ["search.search_factor=0.5", "search.budget_seconds=1e-6"]))
    assert budgets == [1e-6]                                        # a smaller budget of its own stays
    events.clear(), budgets.clear()
    run_search(load_config(None, base))
    assert budgets == [None]                                        # no cap by default
    with pytest.raises(UserError, match="cannot resume"):           # refused before anything trains
        events.clear()
        run_search(load_config(None, base), RunDir(tmp_path / "r"), resume=True)
    assert events == []


def test_the_recipe_stage_gives_a_lead_screened_architecture_its_own_norm(data):
    """An architecture screened with the lead recipe and its norm (cosine scores) gets the grid's other
    entries on the architecture as the pool had it: BPR with plain dot products, not with the lead's
    norm (session 8 measured BPR on cosine scores at 0.22 validation Recall on ml-100k against 0.34)."""
    cfg = data[0]
    lr = cfg.search.select_lr
    other = Genotype.mf(16)
    softmax = Recipe(loss="softmax", negatives=8, temperature=0.2, lr=lr)
    screened = select_mod._screened(other, (softmax, True), lr)
    assert screened == other.with_(recipe=softmax, norm=True)
    done = [Candidate(screened, {"recall@20": 0.3}, 1.0, 3)]
    grid = [(Recipe(lr=lr), None), (softmax, True)]
    plan = list(select_mod._recipe_plan(done, [], grid, cfg.search, "recall@20", True, {screened: other}))
    assert plan == [other.with_(recipe=Recipe(lr=lr)), screened]      # the second one is skipped as trained
    blind = list(select_mod._recipe_plan(done, [], grid, cfg.search, "recall@20", True))
    assert blind[0].norm is True          # without the origin: the lead's norm, which is what this fixes


def test_the_selection_warns_when_validation_cannot_resolve_a_lead_that_matters(data, monkeypatch):
    """``paired.resolution`` = z x se / incumbent score (the challenger, an MF run, validates above the
    incumbent's 0.2; its per-user scores are set); above RESOLUTION_WARN (5%) a warning says the
    pick may not hold on test, below it nothing is said."""
    cfg, ds, graph, ev = data
    users, g, inc, one = _mf_against_incumbent(data, 0.2)
    spread = torch.full((users,), 0.3)
    spread[::2] += 0.5                                       # +0.1 on average, paired sd 0.5
    spread[1::2] -= 0.5
    steady = torch.full((users,), 0.3)                       # +0.1 on every user: se 0
    spread_se = float((spread - 0.2).double().std()) / math.sqrt(users)
    for per_user, se in ((spread, spread_se), (steady, 0.0)):
        monkeypatch.setattr(select_mod, "valid_per_user", lambda evaluator, model, v=per_user: v)
        res = select_genotype([Genotype.mf(16)], ds, graph, one, ev, recipes=[], incumbent=inc)
        p = res.paired
        assert p["resolution"] == pytest.approx(p["z"] * se / 0.2, abs=1e-9)
        warned = any(w.startswith("validation resolution") for w in res.warnings)
        assert warned is (p["resolution"] > RESOLUTION_WARN)
        assert warned is (per_user is spread)
