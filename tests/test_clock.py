"""The budget clock (``search.budget_clock``, :mod:`darts_gnn.engine.clock`): a search counts this
process's CPU time, so that a busy machine (other jobs, here a sleep) does not shrink its budget and
the same seed retrains the same candidates."""
from __future__ import annotations

import time

import pytest
import torch

import darts_gnn.search.select as select_mod
from darts_gnn.config import ConfigError, load_config
from darts_gnn.data import Graph, load_dataset
from darts_gnn.engine import clock
from darts_gnn.pipeline import run_search
from darts_gnn.search.early_cut import deadline_rule
from darts_gnn.search.select import select_genotype
from darts_gnn.space.genotype import Genotype
from darts_gnn.tasks.metrics import Evaluator
from test_strategies import TINY as STRATEGY_TINY

TINY = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
        "data.split=random", "train.epochs=4", "train.eval_every=2", "train.batch_size=256", "train.progress=false",
        "search.select_patience=1", "search.select_spare=false", "model.dim=16", "model.n_layers=2"]


def test_the_cpu_clock_does_not_count_waiting_and_the_wall_clock_does():
    assert clock.kind() == "wall"                       # outside a search: wall time
    with clock.counting("cpu", threads=1) as kind:
        assert kind == "cpu" and clock.kind() == "cpu"
        t = clock.now()
        time.sleep(0.3)
        assert clock.now() - t < 0.1
    assert clock.kind() == "wall"                       # restored after the block
    with clock.counting("wall"):
        t = clock.now()
        time.sleep(0.1)
        assert clock.now() - t >= 0.09


def test_cpu_on_a_gpu_counts_wall_time_and_unknown_clocks_are_refused():
    assert clock.resolve("cpu", "cuda:0", 1) == "wall" and clock.resolve("cpu", "cpu", 1) == "cpu"
    assert clock.resolve("wall", "cuda") == "wall"
    assert clock.resolve("cpu", "auto", 1) == ("wall" if torch.cuda.is_available() else "cpu")


def test_cpu_with_several_torch_threads_counts_wall_time():
    """CPU time counts every thread, and how busy they are depends on the work (BPR against sampled
    softmax), so with more than one thread the budget counts wall time."""
    assert clock.resolve("cpu", "cpu", threads=2) == "wall"
    assert clock.resolve("cpu", "cpu", threads=1) == "cpu"
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert clock.resolve("cpu", "cpu", threads=0) == "wall"     # 0: torch's own setting
        torch.set_num_threads(1)
        assert clock.resolve("cpu", "cpu", threads=0) == "cpu"
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="budget clock"):
        clock.resolve("sundial")
    with pytest.raises(ConfigError, match="search.budget_clock: expected cpu or wall"):
        load_config(None, ["search.budget_clock=sundial"])
    assert load_config(None, []).search.budget_clock == "cpu"


def test_a_deadline_under_the_cpu_clock_ignores_time_spent_waiting():
    with clock.counting("cpu", threads=1):
        stop = deadline_rule(0.2)
        time.sleep(0.3)
        assert not stop(0, {}) and not stop.fired
    with clock.counting("wall"):
        stop = deadline_rule(0.05)
        time.sleep(0.1)
        assert stop(0, {}) and stop.fired


@pytest.fixture(scope="module")
def data():
    cfg = load_config(None, TINY)
    ds = load_dataset(cfg.data)
    return cfg, ds, Graph.from_dataset(ds, "train"), Evaluator(ds, ks=(20,))


def _selection(data, pool, budget):
    cfg, ds, graph, ev = data
    return select_genotype(pool, ds, graph, cfg, ev, recipes=[], anchors=[], pool_size=len(pool),
                           budget_seconds=budget)


def test_a_busy_machine_does_not_change_which_candidates_the_cpu_budget_retrains(data, monkeypatch):
    """After each candidate's training, another job holds the core for half the budget (the wall
    clock jumps): under the CPU clock the same candidates are retrained, with the same scores; under
    the wall clock the budget runs out before the third."""
    pool = [Genotype.lightgcn(2, 16), Genotype.mf(16), Genotype.lightgcn(1, 16)]
    budget = 20.0
    with clock.counting("cpu", threads=1):
        quiet = _selection(data, pool, budget)
    assert len(quiet.candidates) == 3 and quiet.skipped == 0
    train, real, waited = select_mod.train_candidate, time.perf_counter, [0.0]

    def busy(*a, **k):
        out = train(*a, **k)
        waited[0] += budget / 2
        return out
    monkeypatch.setattr(select_mod, "train_candidate", busy)
    monkeypatch.setattr(time, "perf_counter", lambda: real() + waited[0])
    with clock.counting("cpu", threads=1):
        loaded = _selection(data, pool, budget)
    assert [c.genotype for c in loaded.candidates] == [c.genotype for c in quiet.candidates]
    assert [c.valid for c in loaded.candidates] == [c.valid for c in quiet.candidates]
    assert loaded.winner == quiet.winner
    with clock.counting("wall"):
        walled = _selection(data, pool, budget)
    assert len(walled.candidates) == 2 and walled.skipped == 1


def test_a_search_writes_the_clock_it_counted_with():
    base = STRATEGY_TINY + ["search.epochs=1", "search.select_pool=1", "search.select_patience=1",
                            "search.select_recipe_top=0", "search.select_recipe_baseline=false"]
    before = torch.get_num_threads()
    try:
        rep = run_search(load_config(None, base + ["train.num_threads=1"]), compare_baseline=True)
        assert rep.metrics["selection"]["budget_clock"] == "cpu"
        assert clock.kind() == "wall"
        for extra in (["search.budget_clock=wall", "train.num_threads=1"], ["train.num_threads=2"]):
            walled = run_search(load_config(None, base + extra), compare_baseline=True)
            assert walled.metrics["selection"]["budget_clock"] == "wall"
    finally:
        torch.set_num_threads(before)
