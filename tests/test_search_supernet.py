"""SuperNet: per-layer α rows all get gradient, one-hot α reproduces LightGCN and MF, genotype."""
import pytest
import torch

from darts_gnn.space.genotype import Genotype, LayerGene
from darts_gnn.nn import MF, LightGCN
from darts_gnn.space.candidates import DotAttentionAggregate, _edge_softmax_attention
from darts_gnn.search import SuperNet
from darts_gnn.space.registry import SearchSpace
from helpers import tiny


def test_alpha_apart_from_weights():
    _, graph = tiny()
    net = SuperNet(SearchSpace(), graph)
    arch = {id(a) for a in net.arch_parameters()}
    assert len(arch) == len(net.choice_keys) == 12
    assert not arch & {id(w) for w in net.weights()}
    assert net.weights() == list(net.parameters())  # α is not a parameter (issue 8)
    assert not arch & {id(p) for p in net.parameters()}


@pytest.mark.parametrize("relaxation", ["softmax", "gumbel", "sigmoid"])
def test_every_alpha_row_gets_a_nonzero_gradient(relaxation):
    from darts_gnn.search.relax import build_relaxation
    _, graph = tiny()
    torch.manual_seed(0)
    net = SuperNet(SearchSpace(), graph, relaxation=build_relaxation(relaxation, hard=False))
    with torch.no_grad():
        for a in net.arch_parameters():
            a.normal_(0, 0.1)
    u, i = net.embeddings()
    users = torch.arange(10)
    loss = torch.nn.functional.softplus(-(u[users] * i[users]).sum(-1) + (u[users] * i[users + 10]).sum(-1)).mean()
    loss.backward()
    rows = dict(net.named_arch_parameters())
    # one row per layer per choice: distinct tensors, each with its own non-zero gradient
    assert len({id(a) for a in rows.values()}) == len(rows)
    for key, a in rows.items():
        assert a.grad is not None and a.grad.abs().sum() > 0, f"α row {key} got no gradient"
    layer_grads = [rows[f"layer{l}.aggregator"].grad for l in range(3)]
    assert not torch.allclose(layer_grads[0], layer_grads[1])


def _copy_tables(net, ref, dim):
    with torch.no_grad():
        net.user_emb.weight.zero_()
        net.item_emb.weight.zero_()
        net.user_emb.weight[:, :dim] = ref.user_emb.weight
        net.item_emb.weight[:, :dim] = ref.item_emb.weight


def test_one_hot_alpha_reproduces_lightgcn():
    ds, graph = tiny()
    torch.manual_seed(1)
    ref = LightGCN(graph, dim=64, n_layers=3)
    net = SuperNet(SearchSpace(), graph)
    net.set_genotype(Genotype.lightgcn(3, 64))
    assert net.genotype() == Genotype.lightgcn(3, 64)
    _copy_tables(net, ref, 64)
    users = torch.arange(ds.n_users)
    with torch.no_grad():
        (u, i), (ru, ri) = net.embeddings(), ref.embeddings()
        assert torch.equal(u[:, 64:], torch.zeros_like(u[:, 64:]))
        # mixed_aggregate's gcn coefficients are computed in float64: equal up to float32 rounding
        torch.testing.assert_close(u[:, :64], ru, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(i[:, :64], ri, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(net.score(users), ref.score(users), rtol=1e-6, atol=1e-7)


def test_one_hot_alpha_reproduces_mf_exactly():
    ds, graph = tiny()
    torch.manual_seed(2)
    ref = MF(ds.n_users, ds.n_items, dim=32)
    net = SuperNet(SearchSpace(), graph)
    net.set_genotype(Genotype.mf(32))
    _copy_tables(net, ref, 32)
    users = torch.arange(ds.n_users)
    assert torch.equal(net.score(users), ref.score(users))


def test_one_hot_alpha_matches_the_discrete_model_of_any_genotype():
    ds, graph = tiny()
    g = Genotype((LayerGene("attn", "linear_act", "residual"), LayerGene("max", "linear", "none")), "sum", 16)
    net = SuperNet(SearchSpace(n_layers=2), graph)
    net.set_genotype(g)
    model = g.build_model(ds, graph)
    with torch.no_grad():
        _copy_tables(net, model, 16)
        for l, layer in enumerate(model.layers):
            mixed = net.layers[l].transform.ops[net.space.transforms.index(g.layers[l].transform)]
            w = mixed.linear.weight
            w.zero_()
            w[:16, :16] = layer.transform.linear.weight
            mixed.linear.bias.zero_()
            mixed.linear.bias[:16] = layer.transform.linear.bias
        u, i = net.embeddings()
        mu, mi = model.embeddings()
    assert torch.equal(u[:, 16:], torch.zeros_like(u[:, 16:]))
    torch.testing.assert_close(u[:, :16], mu, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(i[:, :16], mi, rtol=1e-5, atol=1e-6)


def test_sparse_attention_matches_reference_with_double_backward():
    _, graph = tiny()
    torch.manual_seed(0)
    x = torch.randn(graph.num_nodes, 8, dtype=torch.float64, requires_grad=True)
    att = DotAttentionAggregate(8)
    out, ref = att(graph, x), _edge_softmax_attention(graph, x, att.scale)[0]
    torch.testing.assert_close(out, ref)
    grad = torch.randn_like(out)
    g1 = torch.autograd.grad(out, x, grad, create_graph=True)[0]
    g2 = torch.autograd.grad(ref, x, grad, create_graph=True)[0]
    torch.testing.assert_close(g1, g2)
    h1 = torch.autograd.grad(g1.pow(2).sum(), x)[0]
    h2 = torch.autograd.grad(g2.pow(2).sum(), x)[0]
    torch.testing.assert_close(h1, h2)
