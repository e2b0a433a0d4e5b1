"""LightGCN: linear propagation over the normalised user-item graph."""
from __future__ import annotations

import torch

from .base import Recommender, sym_spmm
from .graphcache import DeviceGraph

__all__ = ["LightGCN"]


class LightGCN(Recommender):
    r"""LightGCN (He et al., SIGIR 2020): propagation without transforms or non-linearities.

    .. math::
        E^{(0)} = [E_U; E_I], \qquad
        E^{(l+1)} = \hat A\, E^{(l)}, \qquad
        E = \frac{1}{L+1} \sum_{l=0}^{L} E^{(l)}, \qquad
        \hat y_{ui} = \langle e_u, e_i \rangle

    where :math:`\hat A = D^{-1/2} A D^{-1/2}` is the symmetric normalised adjacency of the
    ``N = U + I`` node graph (:meth:`darts_gnn.data.Graph.norm_adj`, sparse CSR ``[N, N]``).

    Shapes: ego tables ``[U, dim]`` and ``[I, dim]``, initialised :math:`\mathcal N(0, 0.1^2)`;
    :meth:`embeddings` returns ``([U, dim], [I, dim])``. Each call runs ``n_layers`` sparse products
    (and as many in the backward pass, reusing :math:`\hat A` as its own transpose).

    Args:
        graph: the training :class:`~darts_gnn.data.Graph` (message passing never sees valid/test).
        dim: embedding size ``d`` (64 in the paper).
        n_layers: propagation depth ``L`` (3 in the paper); ``0`` gives MF.
    """

    def __init__(self, graph, dim: int = 64, n_layers: int = 3):
        super().__init__()
        if dim <= 0 or n_layers < 0:
            raise ValueError(f"LightGCN: dim must be positive and n_layers non-negative, got {dim}, {n_layers}")
        self.n_users, self.n_items = int(graph.n_users), int(graph.n_items)
        self.dim, self.n_layers = int(dim), int(n_layers)
        self.graph = DeviceGraph(graph)
        self.init_tables(self.dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.reset_tables()

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        if self.n_layers == 0:
            return x.split([self.n_users, self.n_items])
        adj = self.graph.get(x.device).norm_adj()
        total = x
        for _ in range(self.n_layers):
            x = sym_spmm(adj, x)
            total = total + x
        return (total / (self.n_layers + 1)).split([self.n_users, self.n_items])

    def extra_repr(self) -> str:
        return f"users={self.n_users}, items={self.n_items}, dim={self.dim}, n_layers={self.n_layers}"
