"""Spare candidates after DARTS: the rest of the one-shot ranking interleaved with neighbours of the
baseline point (search.select_neighbours; darts_gnn.search.pool)."""
import pytest

import darts_gnn.search.pool as pool_mod
from darts_gnn.config import ConfigError, load_config
from darts_gnn.pipeline import run_search
from darts_gnn.space import SearchSpace
from darts_gnn.space.genotype import Genotype
from test_incumbent import TINY


def _edits(a: Genotype, b: Genotype) -> int:
    """Choices that differ between two genotypes (a missing layer counts once)."""
    n = int(a.combine != b.combine) + int(a.width != b.width) + abs(a.depth - b.depth)
    for x, y in zip(a.layers, b.layers):
        n += int(x.aggregator != y.aggregator) + int(x.transform != y.transform) + int(x.skip != y.skip)
    return n


def test_neighbours_are_distinct_close_seeded_and_in_the_space():
    space = SearchSpace.for_run(load_config("configs/search_lastfm.yaml", []))
    base = Genotype.lightgcn(3, 64)
    near = pool_mod.baseline_neighbours(base, space, 16, seed=0)
    assert len(near) == 16 == len(set(near)) and base not in near
    assert all(space.contains(g) for g in near)
    assert sorted(_edits(base, g) for g in near)[len(near) // 2] <= 2          # about one edit: median <= 2
    assert near == pool_mod.baseline_neighbours(base, space, 16, seed=0)
    assert near != pool_mod.baseline_neighbours(base, space, 16, seed=1)
    assert pool_mod.baseline_neighbours(base, space, 0, seed=0) == []


def test_interleave_alternates_and_drops_duplicates():
    assert pool_mod._interleave([1, 2, 3, 4], ["a", 2]) == [1, "a", 2, 3, 4]
    assert pool_mod._interleave([], ["a"]) == ["a"]


def test_darts_selection_gets_the_neighbours_as_spare(monkeypatch):
    spares = {}
    real = pool_mod.select_genotype
    for n in (0, 3):
        cfg = load_config(None, TINY + ["search.epochs=1", "search.select_pool=1", "search.select_samples=4",
                                        "search.select_recipes=[{lr: 0.005}]", f"search.select_neighbours={n}"])

        def spy(*a, **k):
            spares[n] = list(k.get("spare", ()))
            return real(*a, **k)
        monkeypatch.setattr(pool_mod, "select_genotype", spy)
        run_search(cfg, None, progress=False)
    base = Genotype.lightgcn(cfg.model.n_layers, cfg.model.dim)
    near = pool_mod.baseline_neighbours(base, SearchSpace.for_run(cfg), 3, cfg.search.seed or cfg.train.seed)
    assert len(near) == 3 and [g for g in spares[3] if g in near] == near        # all of them, in order
    assert [g for g in spares[3] if g not in near] == [g for g in spares[0] if g not in near]   # + the ranking
    assert spares[0] and spares[3][1] == near[0]                                   # interleaved


def test_config_rejects_negative_neighbours():
    with pytest.raises(ConfigError, match=r"search\.select_neighbours"):
        load_config(None, ["search.select_neighbours=-1"])
