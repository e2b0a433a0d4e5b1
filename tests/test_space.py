"""Search space and registry: defaults, YAML round trip, user-registered candidates, errors."""
import pytest
import torch

from darts_gnn.config import ConfigError, SearchConfig
from darts_gnn.space.genotype import Genotype, LayerGene
from darts_gnn.space.registry import REGISTRY, Registry, SearchSpace, SpaceError, register


def test_default_space_has_every_choice():
    space = SearchSpace()
    keys = [c.key for c in space.searched_choices()]
    assert keys == [f"layer{l}.{k}" for l in range(3) for k in ("aggregator", "transform", "skip")] + \
        ["combine", "depth", "width"]
    assert space.aggregators == ["gcn", "mean", "sum", "max", "min", "attn"]
    assert space.depths == [0, 1, 2, 3] and space.widths == [16, 32, 64, 128]
    assert space.contains(Genotype.lightgcn(3, 64)) and space.contains(Genotype.mf(64))
    assert not space.contains(Genotype.lightgcn(3, 48))
    assert space.size() > 100_000


def test_yaml_and_config_round_trip(tmp_path):
    space = SearchSpace(n_layers=2, aggregators=["gcn", "max"], widths=[32, 16])
    path = tmp_path / "space.yaml"
    space.save(path)
    again = SearchSpace.load(path)
    assert again == space and again.widths == [16, 32]
    cfg = SearchConfig(n_layers=4, space={"aggregators": ["mean", "attn"]})
    s = SearchSpace.from_config(cfg)
    assert s.n_layers == 4 and s.aggregators == ["mean", "attn"]
    assert SearchSpace.from_config(SearchConfig(space=str(path))) == space


def test_bad_space_names_the_field_and_the_allowed_values():
    with pytest.raises(SpaceError, match="space.aggregators: 'nope' is not a registered aggregator; registered: gcn"):
        SearchSpace(aggregators=["gcn", "nope"])
    with pytest.raises(SpaceError, match="space.depths"):
        SearchSpace(n_layers=2, depths=[3])
    with pytest.raises(SpaceError, match="unknown key"):
        SearchSpace.from_dict({"layers": 3})
    assert issubclass(SpaceError, ConfigError)  # the CLI reports it as one line, exit code 2


def test_register_a_custom_candidate_and_use_it():
    reg = Registry()
    for kind in ("aggregator", "transform", "skip", "combine"):
        for name in REGISTRY.names(kind):
            c = REGISTRY.get(kind, name)
            reg.register(kind, name, c.factory, native=c.native)

    @reg.register("transform", "tanh")
    class Tanh(torch.nn.Module):
        def __init__(self, dim):
            super().__init__()

        def forward(self, x):
            return torch.tanh(x)

    with pytest.raises(SpaceError, match="already registered"):
        reg.register("transform", "tanh", lambda dim: torch.nn.Tanh())
    space = SearchSpace(n_layers=1, transforms=["identity", "tanh"], registry=reg)
    assert "tanh" in space.transforms
    g = Genotype((LayerGene("gcn", "tanh", "none"),), "mean", 16)
    assert space.contains(g)
    with pytest.raises(SpaceError):
        SearchSpace(transforms=["tanh"])  # not in the default registry


def test_module_level_register_decorator():
    @register("skip", "half_residual")
    class HalfResidual(torch.nn.Module):
        def __init__(self, dim):
            super().__init__()

        def forward(self, x_in, x_out):
            return x_out + 0.5 * x_in
    try:
        assert "half_residual" in SearchSpace(skips=["none", "half_residual"]).skips
    finally:
        REGISTRY.unregister("skip", "half_residual")
