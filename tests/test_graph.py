"""Graph: CSR layout and symmetric normalisation against a dense adjacency on tiny graphs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from darts_gnn.data import Dataset, Graph


def dense_adjacency(n_users, n_items, pairs, social=()):
    n = n_users + n_items
    a = np.zeros((n, n))
    for u, i in pairs:
        a[u, n_users + i] = a[n_users + i, u] = 1
    for u, v in social:
        if u != v:
            a[u, v] = a[v, u] = 1
    return a


PAIRS = np.array([[0, 0], [0, 2], [1, 0], [1, 1], [2, 2], [0, 0], [3, 1]])  # (0, 0) twice
SOCIAL = np.array([[0, 1], [1, 0], [2, 2], [3, 0]])


@pytest.mark.parametrize("social", [None, SOCIAL])
def test_csr_and_norm_adj_match_dense(social):
    n_users, n_items = 5, 3                     # user 4 is isolated (degree 0)
    g = Graph.from_interactions(n_users, n_items, PAIRS, social)
    a = dense_adjacency(n_users, n_items, PAIRS, [] if social is None else social)
    n = n_users + n_items
    # CSR rows sorted, no duplicates, equal to the dense adjacency
    dense = np.zeros((n, n))
    for v in range(n):
        cols = g.col[g.rowptr[v]:g.rowptr[v + 1]].numpy()
        assert (np.diff(cols) > 0).all()
        dense[v, cols] = 1
    np.testing.assert_array_equal(dense, a)
    assert g.num_edges == int(a.sum())
    deg = a.sum(1)
    np.testing.assert_array_equal(g.deg.numpy(), deg)
    np.testing.assert_array_equal(g.row.numpy(), np.repeat(np.arange(n), deg.astype(int)))
    dinv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0.0)
    expected = dinv[:, None] * a * dinv[None, :]
    np.testing.assert_allclose(g.norm_adj().to_dense().numpy(), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(g.gcn_weight.numpy(), expected[g.row.numpy(), g.col.numpy()], rtol=1e-6)
    # the sparse product agrees with the dense one
    x = torch.randn(n, 4)
    np.testing.assert_allclose(torch.sparse.mm(g.norm_adj(), x).numpy(),
                               (torch.from_numpy(expected).float() @ x).numpy(), rtol=1e-5, atol=1e-6)
    assert g.norm_adj() is g.norm_adj()     # cached


def test_graph_from_dataset_uses_only_the_requested_split():
    ds = Dataset("t", 3, 3, train=[[0, 0], [1, 1]], valid=[[0, 1]], test=[[2, 2]], social=[[0, 2]])
    g = Graph.from_dataset(ds)
    a = dense_adjacency(3, 3, ds.train, ds.social)
    assert g.num_edges == int(a.sum()) == 6
    assert Graph.from_dataset(ds, social=False).num_edges == 4
    assert Graph.from_dataset(ds, "test", social=False).num_edges == 2


def test_out_of_range_ids_are_rejected():
    with pytest.raises(ValueError, match="item ids of pairs must lie in"):
        Graph.from_interactions(2, 2, np.array([[0, 2]]))
    with pytest.raises(ValueError, match="user ids of social edges"):
        Graph.from_interactions(2, 2, np.array([[0, 1]]), np.array([[0, 5]]))


def test_empty_graph_and_to_device():
    g = Graph.from_interactions(2, 3, np.zeros((0, 2), dtype=np.int64))
    assert g.num_edges == 0 and g.rowptr.tolist() == [0] * 6
    h = g.to("cpu")
    assert h.num_nodes == 5 and h.norm_adj().shape == (5, 5)
