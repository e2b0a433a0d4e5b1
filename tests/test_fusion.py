"""Content fusion: candidates, the discrete and supernet modules, genotypes with a features gene."""
import json

import pytest
import torch

from darts_gnn import Genotype, SearchSpace, SuperNet
from darts_gnn.config import SyntheticConfig
from darts_gnn.data import Graph, make_synthetic
from darts_gnn.space.fusion import (ConcatFusion, FeatureFusion, FeatureGene, FeatureSpace, GateFusion, Whiten)
from darts_gnn.space.registry import REGISTRY, SpaceError


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    ds = make_synthetic(SyntheticConfig(n_users=30, n_items=40, interactions_per_user=6, n_communities=3), seed=1)
    g = Graph.from_dataset(ds, "train")
    item_x = torch.randn(ds.n_items, 12) @ torch.randn(12, 12)   # anisotropic
    user_x = torch.randn(ds.n_users, 5)
    return ds, g, item_x, user_x


def test_whitening_decorrelates_the_features():
    x = torch.randn(500, 6) @ torch.tensor([[3.0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 0, 0.1, 0, 0, 0],
                                            [0, 0, 0, 2, 0, 0], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0.5, 1]]) + 4.0
    w = Whiten(6, 8).fit(x)
    with torch.no_grad():
        w.scale.fill_(1.0)
        y = w(x)
    assert y.shape == (500, 8) and torch.all(y[:, 6:] == 0)
    cov = torch.cov(y[:, :6].T)
    assert torch.allclose(cov, torch.eye(6), atol=1e-2)


def test_fusions_at_initialisation():
    e, c = torch.randn(7, 4), torch.randn(7, 4)
    assert torch.allclose(ConcatFusion(4)(e, c), (e + c) / 2, atol=1e-6)
    g = GateFusion(4)
    out = g(e, c)
    lo, hi = torch.minimum(e, c), torch.maximum(e, c)
    assert torch.all(out >= lo - 1e-6) and torch.all(out <= hi + 1e-6)


def test_source_id_is_lightgcn_exactly(data):
    ds, g, item_x, _ = data
    torch.manual_seed(3)
    plain = Genotype.lightgcn(2, 8).build_model(ds, g)
    gid = Genotype(plain.genotype.layers, "mean", 8, features=FeatureGene("id"))
    torch.manual_seed(3)
    with_id = gid.build_model(ds, g, item_features=item_x)
    assert with_id.fusion is None
    for a, b in zip(plain.embeddings(), with_id.embeddings()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("gene", [FeatureGene("content", "whiten", "sum", "input"),
                                  FeatureGene("id+content", "linear", "gate", "late"),
                                  FeatureGene("id+content", "mlp", "concat", "input")])
def test_content_genotypes_train_their_fusion(data, gene):
    ds, g, item_x, user_x = data
    geno = Genotype(Genotype.lightgcn(2, 8).layers, "mean", 8, features=gene)
    m = geno.build_model(ds, g, item_features=item_x, user_features=user_x)
    u, i = m.embeddings()
    assert u.shape == (ds.n_users, 8) and i.shape == (ds.n_items, 8)
    (u.sum() + i.pow(2).sum()).backward()
    grads = [p.grad for p in m.fusion.parameters()]
    assert grads and all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    assert any(gr.abs().sum() > 0 for gr in grads)


def test_content_items_differ_only_through_features(data):
    ds, g, item_x, _ = data
    geno = Genotype((), "mean", 8, features=FeatureGene("content", "linear", "sum", "input"))  # MF + content
    m = geno.build_model(ds, g, item_features=item_x)
    _, i = m.embeddings()
    assert torch.allclose(i, m.fusion.item.transforms[0](item_x), atol=1e-6)
    twin = item_x.clone()
    twin[1] = twin[0]
    m2 = geno.build_model(ds, g, item_features=twin)
    m2.load_state_dict(m.state_dict())
    _, i2 = m2.embeddings()
    assert torch.allclose(i2[0], i2[1])


def test_content_genotype_without_features_is_refused(data):
    ds, g, _, _ = data
    geno = Genotype((), "mean", 8, features=FeatureGene("content"))
    with pytest.raises(ValueError, match="pass item_features"):
        geno.build_model(ds, g)
    with pytest.raises(ValueError, match="item_features: 3 feature rows"):
        geno.build_model(ds, g, item_features=torch.zeros(3, 4))


def test_genotype_json_records_the_choices_and_old_json_means_ids(tmp_path):
    gene = FeatureGene("id+content", "whiten", "gate", "late")
    geno = Genotype(Genotype.lightgcn(1, 16).layers, "mean", 16, features=gene)
    geno.save(tmp_path / "g.json")
    d = json.loads((tmp_path / "g.json").read_text())
    assert d["features"] == {"source": "id+content", "transform": "whiten", "fusion": "gate", "at": "late"}
    assert Genotype.load(tmp_path / "g.json") == geno
    assert "features=id+content/whiten/gate@late" in geno.summary()
    old = Genotype.lightgcn(1, 16).to_dict()
    assert "features" not in old and Genotype.from_dict(old).features is None
    with pytest.raises(SpaceError, match="genotype.features"):
        Genotype.from_dict({**old, "features": {"source": "ids"}})
    with pytest.raises(SpaceError, match="content_transform 'pca' is not registered"):
        Genotype.from_dict({**old, "features": {**gene.to_dict(), "transform": "pca"}})


def test_supernet_searches_the_fusion_and_matches_the_discrete_model(data):
    ds, g, item_x, user_x = data
    space = SearchSpace(n_layers=2, aggregators=["gcn", "mean"], transforms=["identity"], skips=["none"],
                        combines=["mean"], widths=[8, 16])
    torch.manual_seed(0)
    net = SuperNet(space, g, item_features=item_x, user_features=user_x)
    assert net.choice_keys[-4:] == ["features.source", "features.transform", "features.fusion", "features.at"]
    u, i = net.embeddings()
    (u.sum() + i.sum()).backward()
    assert all(net.alpha[net._row[k]].grad is not None for k in net.choice_keys[-4:])
    gene = FeatureGene("id+content", "linear", "gate", "input")
    geno = Genotype(Genotype.lightgcn(2, 8).layers, "mean", 8, features=gene)
    net.set_genotype(geno)
    assert net.genotype() == geno
    net.eval()
    su, si = net.embeddings()
    model = geno.build_model(ds, g, dim=16, item_features=item_x, user_features=user_x)
    with torch.no_grad():
        model.user_emb.weight.copy_(net.user_emb.weight)
        model.item_emb.weight.copy_(net.item_emb.weight)
        for side in ("item", "user"):
            src, dst = getattr(net.fusion, side), getattr(model.fusion, side)
            dst.transforms[0].load_state_dict(src.transforms[net.fusion.space.transforms.index("linear")].state_dict())
            dst.fusions[0].load_state_dict(src.fusions[net.fusion.space.fusions.index("gate")].state_dict())
    mu, mi = model.embeddings()
    assert torch.allclose(su[:, :8], mu[:, :8], atol=1e-5) and torch.allclose(si[:, :8], mi[:, :8], atol=1e-5)
    assert torch.all(si[:, 8:] == 0)


def test_users_add_their_own_fusion_candidate(data):
    ds, g, item_x, _ = data

    class MaxFusion(torch.nn.Module):
        def __init__(self, dim):
            super().__init__()

        def forward(self, e_id, e_c):
            return torch.maximum(e_id, e_c)

    REGISTRY.register("fusion", "max", MaxFusion)
    try:
        fs = FeatureSpace(sources=["id+content"], transforms=["linear"], fusions=["sum", "max"], at=["input"])
        net = SuperNet(SearchSpace(n_layers=1, widths=[8]), g, item_features=item_x, feature_space=fs)
        assert ("features.fusion", ("sum", "max")) in [(c.key, c.candidates) for c in net.choices]
        with pytest.raises(SpaceError, match="features.space.fusions"):
            FeatureSpace(fusions=["nope"]).check(REGISTRY)
    finally:
        REGISTRY.unregister("fusion", "max")


def test_feature_fusion_requires_item_features(data):
    ds, g, _, user_x = data
    with pytest.raises(ValueError, match="need item_features"):
        SuperNet(SearchSpace(n_layers=1), g, user_features=user_x)
    with pytest.raises(ValueError, match="item_features"):
        FeatureFusion(FeatureSpace(), ds.n_users, ds.n_items, 8, None)


def test_l2_sees_the_fused_layer0_vectors(data):
    ds, g, item_x, _ = data
    geno = Genotype(Genotype.lightgcn(1, 8).layers, "mean", 8, features=FeatureGene("content", "linear", "sum", "input"))
    m = geno.build_model(ds, g, item_features=item_x)
    _, ego_i = m.ego_embeddings()
    assert torch.allclose(ego_i, m.fusion.item.transforms[0](item_x))
    ego_i.pow(2).sum().backward()
    assert m.fusion.item.transforms[0].weight.grad.abs().sum() > 0
    plain = Genotype.lightgcn(1, 8).build_model(ds, g)
    assert plain.ego_embeddings()[1] is plain.item_emb.weight
