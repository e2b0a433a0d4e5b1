"""MF, LightGCN and NGCF: shapes, gradients, and propagation against dense-matrix formulas."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from darts_gnn.config import ModelConfig
from darts_gnn.data.dataset import Dataset
from darts_gnn.data.graph import Graph
from darts_gnn.nn.models import MODELS, build_model
from darts_gnn.nn import MF, NGCF, LightGCN, Recommender, sym_spmm

PAIRS = np.array([[0, 0], [0, 1], [1, 1], [1, 2], [2, 3], [3, 0], [3, 3], [3, 4]])
U, I = 5, 5  # user 4 and item 2's neighbours are sparse; user 4 is isolated


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors gain nothing from more threads, and one keeps the tests fast on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def graph():
    return Graph.from_interactions(U, I, PAIRS)


def dense_norm_adj():
    """D^-1/2 A D^-1/2 computed independently, densely, from the pairs."""
    n = U + I
    a = torch.zeros(n, n, dtype=torch.float64)
    for u, i in PAIRS:
        a[u, U + i] = a[U + i, u] = 1.0
    d = a.sum(1)
    dinv = torch.where(d > 0, d.clamp(min=1).rsqrt(), torch.zeros_like(d))
    return dinv[:, None] * a * dinv[None, :]


def test_norm_adj_matches_dense(graph):
    assert torch.allclose(graph.norm_adj().to_dense().double(), dense_norm_adj(), atol=1e-6)


def test_lightgcn_equals_dense_propagation(graph):
    torch.manual_seed(0)
    model = LightGCN(graph, dim=8, n_layers=3)
    a = dense_norm_adj()
    e = torch.cat([model.user_emb.weight, model.item_emb.weight]).double()
    layers = [e]
    for _ in range(3):
        layers.append(a @ layers[-1])
    final = torch.stack(layers).mean(0)
    u, i = model.embeddings()
    assert u.shape == (U, 8) and i.shape == (I, 8)
    assert torch.allclose(torch.cat([u, i]).double(), final, atol=1e-5)
    # gradients equal the dense computation's too
    w = torch.randn(U + I, 8, dtype=torch.float64)
    (torch.cat([u, i]) * w.float()).sum().backward()
    m = sum(torch.linalg.matrix_power(a, k) for k in range(4)) / 4
    assert torch.allclose(model.user_emb.weight.grad.double(), (m @ w)[:U], atol=1e-5)
    assert torch.allclose(model.item_emb.weight.grad.double(), (m @ w)[U:], atol=1e-5)


def test_lightgcn_zero_layers_is_mf(graph):
    model = LightGCN(graph, dim=4, n_layers=0)
    u, i = model.embeddings()
    assert torch.equal(u, model.user_emb.weight) and torch.equal(i, model.item_emb.weight)


def test_sym_spmm_gradcheck(graph):
    adj = graph.norm_adj()
    adj64 = torch.sparse_csr_tensor(adj.crow_indices(), adj.col_indices(), adj.values().double(), adj.shape,
                                    check_invariants=True)
    x = torch.randn(U + I, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: sym_spmm(adj64, t), (x,))
    assert torch.autograd.gradgradcheck(lambda t: sym_spmm(adj64, t) ** 2, (x,))
    with pytest.raises(ValueError, match="square"):
        sym_spmm(adj64, torch.randn(3, 2, dtype=torch.float64))


def test_ngcf_matches_formula_and_grads(graph):
    torch.manual_seed(0)
    model = NGCF(graph, dim=6, n_layers=2)
    u, i = model.embeddings()
    assert u.shape == (U, 18) and i.shape == (I, 18) and model.out_dim == 18
    a = dense_norm_adj().float()
    x = torch.cat([model.user_emb.weight, model.item_emb.weight])
    outs = [x]
    for w1, w2 in zip(model.w1, model.w2):
        x = F.leaky_relu(((a + torch.eye(U + I)) @ x) @ w1.weight.t() + w1.bias
                         + ((a @ x) * x) @ w2.weight.t() + w2.bias, 0.2)
        outs.append(x / x.norm(dim=1, keepdim=True).clamp(min=1e-12))
    assert torch.allclose(torch.cat([u, i]), torch.cat(outs, 1), atol=1e-5)
    (u.sum() + (i ** 2).sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_ngcf_dropout_only_in_training(graph):
    model = NGCF(graph, dim=4, n_layers=2, dropout=0.5)
    model.eval()
    a, b = model.embeddings()[0], model.embeddings()[0]
    assert torch.equal(a, b)
    model.train()
    torch.manual_seed(1)
    c = model.embeddings()[0]
    assert not torch.equal(a, c)


def test_mf_and_reset(graph):
    torch.manual_seed(0)
    model = MF(U, I, dim=300)
    u, i = model.embeddings()
    assert u.shape == (U, 300) and i.shape == (I, 300)
    assert abs(float(model.user_emb.weight.detach().std()) - 0.1) < 0.02
    before = model.item_emb.weight.detach().clone()
    model.reset_parameters()
    assert not torch.equal(before, model.item_emb.weight)
    assert torch.allclose(model.score(torch.tensor([1, 2])), u[[1, 2]] @ i.t())


def test_build_model_registry(graph):
    ds = Dataset("t", U, I, train=PAIRS, valid=np.zeros((0, 2)), test=np.zeros((0, 2)))
    assert set(MODELS) >= {"mf", "lightgcn", "ngcf"}
    for name, cls in [("mf", MF), ("lightgcn", LightGCN), ("ngcf", NGCF)]:
        m = build_model(ModelConfig(name=name, dim=8, n_layers=2), ds, graph)
        assert isinstance(m, cls) and isinstance(m, Recommender)
        assert m.embeddings()[0].shape[0] == U
    with pytest.raises(ValueError, match="allowed values"):
        build_model(ModelConfig(name="gat"), ds, graph)
    with pytest.raises(ValueError, match="needs a graph"):
        build_model(ModelConfig(name="lightgcn"), ds)
    with pytest.raises(ValueError, match="users"):
        build_model(ModelConfig(name="lightgcn"), ds, Graph.from_interactions(U + 1, I, PAIRS))


def test_state_dict_excludes_graph(graph):
    keys = set(LightGCN(graph, dim=4).state_dict())
    assert keys == {"user_emb.weight", "item_emb.weight"}
