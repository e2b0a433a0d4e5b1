"""NGCF: neural graph collaborative filtering."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Recommender, sym_spmm
from .graphcache import DeviceGraph

__all__ = ["NGCF"]


class NGCF(Recommender):
    r"""NGCF (Wang et al., SIGIR 2019), with the layer of equation (7) of the paper.

    .. math::
        E^{(l+1)} = \mathrm{LeakyReLU}_{0.2}\!\Big( \big((\hat A + I) E^{(l)}\big) W_1^{(l)} + b_1^{(l)}
                    + \big(\hat A E^{(l)} \odot E^{(l)}\big) W_2^{(l)} + b_2^{(l)} \Big)

    followed by message dropout (``dropout``, training only) and row-wise L2 normalisation of the
    layer output; the final embedding concatenates all layers,
    :math:`E = [E^{(0)} \,\Vert\, \bar E^{(1)} \,\Vert \cdots \Vert\, \bar E^{(L)}]`, scored by inner product.
    :math:`\hat A = D^{-1/2} A D^{-1/2}` (:meth:`darts_gnn.data.Graph.norm_adj`).

    Shapes: ego tables ``[U, dim]``, ``[I, dim]`` (:math:`\mathcal N(0, 0.1^2)`); ``W_1, W_2``
    ``[dim, dim]`` per layer (Xavier-uniform, zero bias); :meth:`embeddings` returns
    ``([U, dim * (L + 1)], [I, dim * (L + 1)])``.

    Args:
        graph: the training :class:`~darts_gnn.data.Graph`.
        dim: embedding size per layer.
        n_layers: number of propagation layers ``L``.
        dropout: message dropout probability applied to each layer output while training.
    """

    def __init__(self, graph, dim: int = 64, n_layers: int = 3, dropout: float = 0.0):
        super().__init__()
        if dim <= 0 or n_layers < 0 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"NGCF: expected dim > 0, n_layers >= 0 and dropout in [0, 1), got "
                             f"{dim}, {n_layers}, {dropout}")
        self.n_users, self.n_items = int(graph.n_users), int(graph.n_items)
        self.dim, self.n_layers, self.dropout = int(dim), int(n_layers), float(dropout)
        self.graph = DeviceGraph(graph)
        self.init_tables(self.dim)
        self.w1 = nn.ModuleList(nn.Linear(self.dim, self.dim) for _ in range(self.n_layers))
        self.w2 = nn.ModuleList(nn.Linear(self.dim, self.dim) for _ in range(self.n_layers))
        self.reset_parameters()

    @property
    def out_dim(self) -> int:
        return self.dim * (self.n_layers + 1)

    def reset_parameters(self) -> None:
        self.reset_tables()
        for lin in (*self.w1, *self.w2):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        outs = [x]
        if self.n_layers:
            adj = self.graph.get(x.device).norm_adj()
        for w1, w2 in zip(self.w1, self.w2):
            side = sym_spmm(adj, x)
            x = F.leaky_relu(w1(side + x) + w2(side * x), negative_slope=0.2)
            x = F.dropout(x, self.dropout, self.training)
            outs.append(F.normalize(x, p=2, dim=1))
        return torch.cat(outs, dim=1).split([self.n_users, self.n_items])

    def extra_repr(self) -> str:
        return (f"users={self.n_users}, items={self.n_items}, dim={self.dim}, n_layers={self.n_layers}, "
                f"dropout={self.dropout}")
