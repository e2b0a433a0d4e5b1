r"""Why an item was recommended: score attributions over the user's graph neighbourhood.

**Linear propagation** (LightGCN, MF and genotypes whose layers are ``gcn`` / ``sum`` / ``mean``
aggregators, ``identity`` / ``linear`` transforms and ``none`` / ``residual`` skips, any combine):
with :math:`h^{(l)}_u = s_l\,h^{(l-1)}_u + T_l\big(\sum_{j \in \mathcal N(u)} a^{(l)}_{uj} h^{(l-1)}_j\big)`
(:math:`s_l \in \{0, 1\}` the residual, :math:`T_l x = W_l x + b_l` or the identity,
:math:`a^{(l)}_{uj}` = :math:`1/\sqrt{d_u d_j}`, 1 or :math:`1/d_u`) and
:math:`e_u = \sum_l \beta_l h^{(l)}_u`, the score splits exactly:

.. math::
    \langle e_u, e_i\rangle = \underbrace{\beta_0 \langle h^{(0)}_u, e_i\rangle}_{\text{self}}
    + \sum_{j \in \mathcal N(u)} \underbrace{\sum_{l \ge 1} \beta_l a^{(l)}_{uj}
      \langle W_l h^{(l-1)}_j, e_i\rangle}_{\text{neighbour } j}
    + \underbrace{\sum_{l \ge 1} \beta_l \big(s_l \langle h^{(l-1)}_u, e_i\rangle + \langle b_l, e_i\rangle\big)}_{\text{residual + bias}}

computed in float64 (neighbours :math:`j` are the items the user interacted with in training, and
users it is linked to by social edges).

**Other genotypes** (attention, ``max`` / ``min``, activations, NGCF): gradient x input on the ego
embeddings, :math:`\langle \partial s_{ui} / \partial h^{(0)}_n, h^{(0)}_n\rangle` for the user itself,
the item and the user's neighbours; a first-order approximation, labelled ``exact: False``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from types import SimpleNamespace

import torch

from ..errors import UserError
from ..config import config_from_dict
from ..data.graph import Graph
from ..space.genotype import Genotype
from ..nn.models import build_model
from ..nn import LightGCN, MF
from ..space.candidates import GCNAggregate, LastCombine, LearnedCombine, LinearTransform, MeanCombine, NativeAggregate, NoSkip, Residual, SumCombine
from ..space.discrete import GenotypeNet

__all__ = ["Explainer", "LinearLayer", "linear_form", "rebuild_model"]


@dataclass
class LinearLayer:
    """One linear propagation layer: aggregator ``agg`` (``gcn``, ``sum``, ``mean``), optional
    transform ``weight`` ``[d, d]`` / ``bias`` ``[d]``, and whether a residual adds the input."""
    agg: str
    weight: torch.Tensor | None
    bias: torch.Tensor | None
    residual: bool


def rebuild_model(bundle):
    """The trained :class:`~darts_gnn.nn.Recommender` of a bundle, from ``explain.pt`` (eval mode)."""
    if bundle.explain is None:
        raise UserError("explanations need the weights and graph of explain.pt; re-export without --no-explain")
    U, I = bundle.n_users, bundle.n_items
    graph = Graph(U, I, bundle.explain["rowptr"], bundle.explain["col"])
    info = bundle.manifest["model"]
    if info.get("genotype"):
        model = Genotype.from_dict(info["genotype"]).build_model(graph=graph)
    else:
        cfg = config_from_dict(bundle.manifest["config"])
        model = build_model(cfg.model, SimpleNamespace(n_users=U, n_items=I), graph)
    model.load_state_dict(bundle.explain["state_dict"])
    return model.eval(), graph


def linear_form(model) -> tuple[list[LinearLayer], list[float]] | None:
    """``(layers, beta)`` of a linear-propagation model (``len(beta) == len(layers) + 1``), or ``None``."""
    from torch import nn

    if isinstance(model, MF):
        return [], [1.0]
    if isinstance(model, LightGCN):
        L = model.n_layers
        return [LinearLayer("gcn", None, None, False) for _ in range(L)], [1.0 / (L + 1)] * (L + 1)
    if not isinstance(model, GenotypeNet):
        return None
    layers = []
    for layer in model.layers:
        agg, tr, skip = layer.aggregator, layer.transform, layer.skip
        if isinstance(agg, GCNAggregate):
            name = "gcn"
        elif type(agg) is NativeAggregate and agg.op in ("sum", "mean"):
            name = agg.op
        else:
            return None
        if isinstance(tr, LinearTransform) and not tr.activation:
            w, b = tr.linear.weight.detach().double(), tr.linear.bias.detach().double()
        elif isinstance(tr, nn.Identity):
            w = b = None
        else:
            return None
        if type(skip) not in (NoSkip, Residual):
            return None
        layers.append(LinearLayer(name, w, b, isinstance(skip, Residual)))
    n, c = len(layers) + 1, model.combine
    if isinstance(c, MeanCombine):
        beta = [1.0 / n] * n
    elif isinstance(c, SumCombine):
        beta = [1.0] * n
    elif isinstance(c, LastCombine):
        beta = [0.0] * (n - 1) + [1.0]
    elif isinstance(c, LearnedCombine):
        beta = torch.softmax(c.logits.detach().double()[:n], 0).tolist()
    else:
        return None
    return layers, beta


def _edge_weights(graph, agg: str) -> torch.Tensor:
    deg = graph.deg.double()
    if agg == "gcn":
        return (deg[graph.row] * deg[graph.col]).rsqrt()
    if agg == "sum":
        return torch.ones(graph.num_edges, dtype=torch.float64)
    return 1.0 / deg[graph.row]


class Explainer:
    """Attributions of ``score(u, i)`` for a bundle's model (see the module docstring).

    ``explain(u, items)`` -> one dict per item: ``score`` (float64 for linear models), ``exact``,
    ``method``, ``self`` (the user's own embedding), ``neighbours`` (all neighbour nodes ``[m]`` with
    their ``values`` ``[m]`` and, for linear models, ``by_layer`` ``[L, m]``) and ``other`` (residual
    and bias terms for linear models; for gradient x input, the part the attributions leave out).
    """

    def __init__(self, bundle):
        self.model, self.graph = rebuild_model(bundle)
        self.n_users = bundle.n_users
        form = linear_form(self.model)
        self.exact = form is not None
        self._lock = threading.Lock()
        if self.exact:
            self.layers, self.beta = form
            self._propagate()

    def _propagate(self) -> None:
        """float64 layer outputs ``hs`` (each ``[N, d]``) and the final embeddings ``e``."""
        g = self.graph
        x = torch.cat([t.detach().double() for t in self.model.ego_embeddings()])
        self.weights = [_edge_weights(g, layer.agg) for layer in self.layers]
        hs = [x]
        for layer, w in zip(self.layers, self.weights):
            adj = torch.sparse_csr_tensor(g.rowptr, g.col, w, size=(g.num_nodes, g.num_nodes),
                                          check_invariants=False)
            h = torch.sparse.mm(adj, hs[-1])
            if layer.weight is not None:
                h = h @ layer.weight.t() + layer.bias
            hs.append(h + hs[-1] if layer.residual else h)
        self.hs = hs
        self.e = sum(b * h for b, h in zip(self.beta, hs))

    def explain(self, user: int, items: list[int]) -> list[dict]:
        """Attributions for internal ``user`` and internal ``items``."""
        if self.exact:
            return self._exact(user, items)
        with self._lock:  # autograd on one shared model: one explanation at a time
            return self._gradient(user, items)

    def _neighbours(self, user: int) -> torch.Tensor:
        start, end = int(self.graph.rowptr[user]), int(self.graph.rowptr[user + 1])
        return torch.arange(start, end)

    def _exact(self, user: int, items: list[int]) -> list[dict]:
        edges = self._neighbours(user)
        nb = self.graph.col[edges]
        ei = self.e[self.n_users + torch.as_tensor(items, dtype=torch.int64)]     # [k, d]
        self_term = self.beta[0] * (self.hs[0][user] @ ei.t())                   # [k]
        other = torch.zeros(len(items), dtype=torch.float64)
        by_layer = []
        for l, (layer, w) in enumerate(zip(self.layers, self.weights), start=1):
            src = self.hs[l - 1][nb]
            if layer.weight is not None:
                src = src @ layer.weight.t()
                other = other + self.beta[l] * (layer.bias @ ei.t())
            if layer.residual:
                other = other + self.beta[l] * (self.hs[l - 1][user] @ ei.t())
            by_layer.append(self.beta[l] * w[edges].unsqueeze(1) * (src @ ei.t()))  # [m, k]
        stack = torch.stack(by_layer) if by_layer else torch.zeros(0, nb.numel(), len(items), dtype=torch.float64)
        score = self.e[user] @ ei.t()
        return [{"score": float(score[j]), "exact": True, "method": "linear decomposition",
                 "self": float(self_term[j]), "other": float(other[j]), "nodes": nb,
                 "values": stack[:, :, j].sum(0), "by_layer": stack[:, :, j]} for j in range(len(items))]

    def _gradient(self, user: int, items: list[int]) -> list[dict]:
        model = self.model
        ego_u, ego_i = model.ego_embeddings()
        nb = self.graph.col[self._neighbours(user)]
        with torch.enable_grad():
            u_emb, i_emb = model.embeddings()
            out = []
            for item in items:
                score = u_emb[user] @ i_emb[item]
                gu, gi = torch.autograd.grad(score, [ego_u, ego_i], retain_graph=True)
                attr = torch.cat([(gu * ego_u).sum(1), (gi * ego_i).sum(1)]).detach().double()
                own = attr[user] + attr[self.n_users + item]
                values = attr[nb]
                out.append({"score": float(score.detach()), "exact": False, "method": "gradient x input (approximate)",
                            "self": float(own), "other": float(score.detach()) - float(own) - float(values.sum()),
                            "nodes": nb, "values": values, "by_layer": None})
        return out
