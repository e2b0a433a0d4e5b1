"""Genotype: JSON round trip, summary, discrete models equal to the baselines."""
import json

import pytest
import torch

from darts_gnn.space.genotype import GENOTYPE_VERSION, Genotype, LayerGene
from darts_gnn.nn import MF, LightGCN
from darts_gnn.space.discrete import GenotypeNet
from darts_gnn.space.registry import SpaceError
from helpers import tiny


GENOS = [
    Genotype.lightgcn(3, 64),
    Genotype.mf(32),
    Genotype((LayerGene("attn", "linear_act", "residual"), LayerGene("max", "linear", "none")), "learned", 16),
    Genotype((LayerGene("min", "identity", "residual"),), "last", 128),
]


@pytest.mark.parametrize("g", GENOS, ids=lambda g: g.summary())
def test_json_round_trip(g, tmp_path):
    assert Genotype.from_json(g.to_json()) == g
    assert Genotype.from_json(json.loads(g.to_json())) == g
    g.save(tmp_path / "genotype.json")
    assert Genotype.load(tmp_path / "genotype.json") == g
    d = json.loads((tmp_path / "genotype.json").read_text())
    assert d["version"] == GENOTYPE_VERSION and d["depth"] == g.depth and d["summary"] == g.summary()


def test_summary_is_one_line():
    assert Genotype.lightgcn(2, 64).summary() == "w64 | gcn>identity, gcn>identity | combine=mean"
    assert "MF" in Genotype.mf(16).summary()
    assert "\n" not in GENOS[2].summary() and "+res" in GENOS[2].summary()


def test_bad_json_is_a_clear_error():
    d = Genotype.lightgcn().to_dict()
    with pytest.raises(SpaceError, match="version"):
        Genotype.from_dict({**d, "version": 99})
    with pytest.raises(SpaceError, match="not registered"):
        Genotype.from_dict({**d, "layers": [{"aggregator": "foo", "transform": "identity", "skip": "none"}],
                            "depth": 1})
    with pytest.raises(SpaceError, match="depth"):
        Genotype.from_dict({**d, "depth": 5})


def test_lightgcn_genotype_is_lightgcn_bit_for_bit():
    ds, graph = tiny()
    torch.manual_seed(0)
    ref = LightGCN(graph, dim=64, n_layers=3)
    model = Genotype.lightgcn(3, 64).build_model(ds, graph)
    assert isinstance(model, GenotypeNet)
    model.load_state_dict(ref.state_dict())
    for a, b in zip(model.embeddings(), ref.embeddings()):
        assert torch.equal(a, b)
    users = torch.arange(ds.n_users)
    assert torch.equal(model.score(users), ref.score(users))


def test_mf_genotype_is_mf():
    ds, graph = tiny()
    ref = MF(ds.n_users, ds.n_items, dim=32)
    model = Genotype.mf(32).build_model(ds, graph)
    model.load_state_dict(ref.state_dict())
    users = torch.arange(ds.n_users)
    assert torch.equal(model.score(users), ref.score(users))


@pytest.mark.parametrize("g", GENOS[2:], ids=lambda g: g.summary())
def test_every_genotype_model_trains(g):
    ds, graph = tiny()
    model = g.build_model(ds, graph)
    u, i = model.embeddings()
    assert u.shape == (ds.n_users, g.width) and i.shape == (ds.n_items, g.width)
    (u.sum() + i.pow(2).sum()).backward()
    assert all(p.grad is not None for p in model.parameters())
