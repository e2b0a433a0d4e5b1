"""LightGCN: linear propagation over the normalised user-item graph."""
from __future__ import annotations

import torch
from torch import nn

from .base import Recommender, sym_spmm

__all__ = ["LightGCN", "GraphAdjacency"]


class GraphAdjacency:
    """The cached sparse ``D^-1/2 A D^-1/2`` of a graph, moved lazily to the device it is used on.

    Not a module buffer on purpose: it stays out of ``state_dict`` (checkpoints hold only weights)
    and is rebuilt from the :class:`~darts_gnn.data.Graph` cache, never per batch.
    """

    def __init__(self, graph):
        self.graph = graph
        self._adj: torch.Tensor | None = None

    def get(self, device: torch.device) -> torch.Tensor:
        if self._adj is None:
            self._adj = self.graph.norm_adj()
        if self._adj.device != device:
            self._adj = self._adj.to(device)
        return self._adj


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
        self.adj = GraphAdjacency(graph)
        self.user_emb = nn.Embedding(self.n_users, self.dim)
        self.item_emb = nn.Embedding(self.n_items, self.dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.user_emb.weight, std=0.1)
        nn.init.normal_(self.item_emb.weight, std=0.1)

    def ego_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_emb.weight, self.item_emb.weight

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        if self.n_layers == 0:
            return x.split([self.n_users, self.n_items])
        adj = self.adj.get(x.device)
        total = x
        for _ in range(self.n_layers):
            x = sym_spmm(adj, x)
            total = total + x
        return (total / (self.n_layers + 1)).split([self.n_users, self.n_items])

    def extra_repr(self) -> str:
        return f"users={self.n_users}, items={self.n_items}, dim={self.dim}, n_layers={self.n_layers}"
