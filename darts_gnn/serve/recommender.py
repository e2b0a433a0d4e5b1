r"""The library recommender: top-K unseen items for users, in their original ids.

.. code-block:: python

    rec = Recommender.load("model")                       # a folder written by darts-gnn export
    [r] = rec.recommend(["196"], k=10)                    # r.items, r.scores, r.strategy, r.capped
    rec.recommend(["196"], k=5, explain=True)[0].explanations

Ranking is the evaluator's (:class:`darts_gnn.tasks.metrics.Evaluator`): scores
:math:`s_{ui} = \langle e_u, e_i\rangle` of a ``[B, I]`` block, seen items set to :math:`-\infty`,
:func:`darts_gnn.tasks.metrics.topk_items` (ties go to the lowest item id). A list never holds a seen (or
filtered-out) item: when fewer than ``k`` items are left, it is shorter and ``capped`` is set.
Users without training interactions (cold start) get the most popular unseen items, flagged
``strategy="popularity"``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from ..errors import UserError
from ..tasks.metrics import _csr_rows, topk_items
from .bundle import Bundle, load_bundle
from .export import bundle_from_run
from .explain import Explainer
from .ann import FaissIndex

__all__ = ["Recommender", "Recommendation", "UnknownIdError"]


class UnknownIdError(UserError, KeyError):
    """A user or item id that the model does not know (the message names it)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass
class Recommendation:
    """One user's list: ``items`` (original ids, best first), their ``scores``, ``strategy``
    (``"model"`` or ``"popularity"`` for a cold-start user), ``capped`` (fewer than ``k`` unseen items
    were left) and, when asked for, one ``explanations`` entry per item."""
    user: str
    items: list[str]
    scores: list[float]
    strategy: str = "model"
    capped: bool = False
    explanations: list[dict] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        out = {"user": self.user, "items": self.items, "scores": self.scores, "strategy": self.strategy,
               "capped": self.capped}
        if self.explanations is not None:
            out["explanations"] = self.explanations
        return out


def _ids_key(x: Any, what: str) -> str:
    if isinstance(x, bool) or not isinstance(x, (str, int)):
        raise UserError(f"{what} id: expected a string or an integer, got {x!r}")
    return str(x)


class Recommender:
    """Top-K recommendations from a :class:`~darts_gnn.serve.Bundle` (see the module docstring).

    Args:
        bundle: the loaded bundle.
        batch_users: users scored per ``[batch_users, I]`` block.
        reasons: neighbours listed per explained item.
    """

    #: Rows of the smallest block whose scores BLAS computes like a large block's (bitwise).
    GEMM_ROWS = 8

    def __init__(self, bundle: Bundle, batch_users: int = 1024, reasons: int = 5):
        if batch_users <= 0 or reasons < 0:
            raise ValueError(f"Recommender: batch_users must be positive and reasons >= 0, got "
                             f"{batch_users}, {reasons}")
        self.bundle = bundle
        self.batch_users, self.reasons = int(batch_users), int(reasons)
        self.user_emb, self.item_emb = bundle.user_emb, bundle.item_emb
        self._user_index = {s: i for i, s in enumerate(bundle.user_ids)}
        self._item_index = {s: i for i, s in enumerate(bundle.item_ids)}
        self._seen_count = bundle.seen_rowptr[1:] - bundle.seen_rowptr[:-1]
        # popularity order: most training interactions first, ties by the lowest item id
        self._pop_order = topk_items(bundle.popularity.double().unsqueeze(0), bundle.n_items)[0]
        self._max_item_norm = float(bundle.item_emb.norm(dim=1).max()) if bundle.n_items else 0.0
        self.rescored = 0  # small blocks scored again as a padded block (see _exact)
        self.ann = None
        self._explainer = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, path: str | Path, verify: bool = True, **kwargs) -> "Recommender":
        """From a folder written by ``darts-gnn export`` (files checked against the manifest)."""
        return cls(load_bundle(path, verify=verify), **kwargs)

    @classmethod
    def from_run(cls, run_dir: str | Path, seen_splits: Sequence[str] = ("train", "valid", "test"),
                 **kwargs) -> "Recommender":
        """From a run directory of ``darts-gnn train`` (reloads its data set once)."""
        return cls(bundle_from_run(run_dir, tuple(seen_splits)), **kwargs)

    @property
    def n_users(self) -> int:
        return self.bundle.n_users

    @property
    def n_items(self) -> int:
        return self.bundle.n_items

    @property
    def version(self) -> str:
        """First 12 hex digits of the embeddings file's SHA-256 (``"unsaved"`` for an in-memory bundle)."""
        digest = (self.bundle.manifest.get("files") or {}).get("tables.pt")
        return digest[:12] if digest else "unsaved"

    def info(self) -> dict[str, Any]:
        """Model name, genotype, sizes, data set fingerprint and version (what ``/info`` serves)."""
        m = self.bundle.manifest
        return {"version": self.version, "created": m.get("created"), "model": m.get("model"),
                "dataset": m.get("dataset"), "seen_splits": m.get("seen_splits"),
                "retrieval": "ann" if self.ann is not None else "exact", "rescored_blocks": self.rescored,
                "darts_gnn_version": m.get("darts_gnn_version")}

    # ------------------------------------------------------------------ ids
    def user_index(self, users: Iterable[Any]) -> torch.Tensor:
        """Internal indices ``[B]`` of original user ids; an unknown id raises :class:`UnknownIdError`."""
        out = []
        for u in users:
            key = _ids_key(u, "user")
            if key not in self._user_index:
                raise UnknownIdError(f"unknown user id {key!r} (the model has {self.n_users} users)")
            out.append(self._user_index[key])
        return torch.tensor(out, dtype=torch.int64)

    def _allowed(self, filter: Any) -> torch.Tensor | None:
        """``filter`` as a bool mask ``[I]``: ``None``, a bool tensor ``[I]``, a callable on an item id,
        or an iterable of allowed item ids."""
        if filter is None:
            return None
        if isinstance(filter, torch.Tensor):
            if filter.dtype != torch.bool or filter.shape != (self.n_items,):
                raise UserError(f"filter: expected a bool tensor of shape [{self.n_items}], got "
                                f"{filter.dtype} {tuple(filter.shape)}")
            return filter
        mask = torch.zeros(self.n_items, dtype=torch.bool)
        if callable(filter):
            mask[[i for i, s in enumerate(self.bundle.item_ids) if filter(s)]] = True
            return mask
        for x in filter:
            key = _ids_key(x, "item")
            if key not in self._item_index:
                raise UnknownIdError(f"filter: unknown item id {key!r}")
            mask[self._item_index[key]] = True
        return mask

    # ------------------------------------------------------------------ ranking
    def _scores(self, batch: torch.Tensor, exclude_seen: bool, allowed, pad: bool = False) -> torch.Tensor:
        """Masked scores ``[B, I]``; ``pad`` computes them in a block of at least :attr:`GEMM_ROWS` rows."""
        rows = batch
        if pad and batch.numel() < self.GEMM_ROWS:
            rows = torch.cat([batch, batch[:1].expand(self.GEMM_ROWS - batch.numel())])
        scores = (self.user_emb[rows] @ self.item_emb.t())[:batch.numel()]
        if exclude_seen:
            r, c = _csr_rows(self.bundle.seen_rowptr, self.bundle.seen_items, batch)
            scores[r, c] = float("-inf")
        if allowed is not None:
            scores[:, ~allowed] = float("-inf")
        return scores

    def _near_tie(self, scores: torch.Tensor, batch: torch.Tensor, k: int) -> bool:
        r"""Whether two of the best ``k + 1`` scores of a row lie within twice the float32 error bound
        of a dot product, :math:`\gamma_d \|u\| \max_i \|e_i\|` with :math:`\gamma_d = d\,2^{-24}`,
        so that another summation order could swap them."""
        vals = scores.topk(min(k + 1, scores.size(1)), dim=1).values
        bound = self.user_emb.size(1) * 2.0 ** -24 * self.user_emb[batch].norm(dim=1) * self._max_item_norm
        gaps = vals[:, :-1] - vals[:, 1:]
        return bool(((gaps <= 4 * bound.unsqueeze(1)) & torch.isfinite(vals[:, 1:])).any())

    def _exact(self, users: torch.Tensor, k: int, exclude_seen: bool, allowed) -> list[tuple]:
        out = []
        for batch in users.split(self.batch_users):
            scores = self._scores(batch, exclude_seen, allowed)
            # BLAS scores a block of one to a few rows with another kernel (other rounding) than the
            # evaluator's large blocks; where that could change the order, redo it as a larger block.
            if batch.numel() < self.GEMM_ROWS and self._near_tie(scores, batch, k):
                scores = self._scores(batch, exclude_seen, allowed, pad=True)
                self.rescored += 1
            top = topk_items(scores, k)
            vals = scores.gather(1, top)
            n_ok = torch.isfinite(vals).sum(1).tolist()  # -inf (masked) sorts last: cut it off
            out += [(top[r, :n], vals[r, :n]) for r, n in enumerate(n_ok)]
        return out

    def _seen(self, u: int) -> torch.Tensor:
        b = self.bundle
        return b.seen_items[int(b.seen_rowptr[u]):int(b.seen_rowptr[u + 1])]

    def _popular(self, u: int, k: int, exclude_seen: bool, allowed) -> tuple:
        order = self._pop_order
        keep = torch.ones(order.numel(), dtype=torch.bool)
        if exclude_seen:
            keep &= ~torch.isin(order, self._seen(u))
        if allowed is not None:
            keep &= allowed[order]
        items = order[keep][:k]
        return items, self.bundle.popularity[items].double()

    def _approximate(self, users: torch.Tensor, k: int, exclude_seen: bool) -> list[tuple]:
        if users.numel() == 0:
            return []
        extra = int(self._seen_count[users].max()) if exclude_seen and users.numel() else 0
        cand = self.ann.search(self.user_emb[users], min(self.n_items, k + extra))
        out = []
        for r, u in enumerate(users.tolist()):
            c = cand[r][cand[r] >= 0]
            if exclude_seen:
                c = c[~torch.isin(c, self._seen(u))]
            c = c.sort().values                                      # ties: lowest item id first
            vals = self.item_emb[c] @ self.user_emb[u]
            order = vals.sort(descending=True, stable=True).indices[:k]
            out.append((c[order], vals[order]))
        return out

    def recommend(self, users: Iterable[Any], k: int = 20, exclude_seen: bool = True,
                  filter: Any = None, explain: bool = False) -> list[Recommendation]:
        """Top-``k`` for each of ``users`` (original ids, str or int), best first.

        ``exclude_seen`` drops the bundle's seen items (``manifest["seen_splits"]``); ``filter``
        restricts the candidates (a bool mask ``[I]``, a predicate on the item id, or a collection of
        item ids; with an approximate index, a filtered request is ranked exactly). ``explain`` adds
        the score attributions of :mod:`darts_gnn.serve.explain` to every item.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise UserError(f"k: expected a positive integer, got {k!r}")
        users = list(users)
        idx = self.user_index(users)
        allowed = self._allowed(filter)
        cold = (self.bundle.user_train[idx] == 0) if idx.numel() else torch.zeros(0, dtype=torch.bool)
        warm = idx[~cold]
        if self.ann is not None and allowed is None:
            ranked = self._approximate(warm, k, exclude_seen)
        else:
            ranked = self._exact(warm, k, exclude_seen, allowed)
        ranked_iter = iter(ranked)
        out = []
        for name, u, is_cold in zip(users, idx.tolist(), cold.tolist()):
            items, vals = self._popular(u, k, exclude_seen, allowed) if is_cold else next(ranked_iter)
            rec = Recommendation(str(name), [self.bundle.item_ids[i] for i in items.tolist()],
                                 [float(v) for v in vals], "popularity" if is_cold else "model",
                                 capped=items.numel() < k)
            if explain:
                rec.explanations = self._explain(u, items.tolist(), rec.scores, is_cold)
            out.append(rec)
        return out

    # ------------------------------------------------------------------ explanations
    def explainer(self):
        """The :class:`~darts_gnn.serve.explain.Explainer` of this model (built on first use)."""
        with self._lock:
            if self._explainer is None:
                self._explainer = Explainer(self.bundle)
            return self._explainer

    def _node_id(self, node: int) -> tuple[str, str]:
        U = self.n_users
        return ("item", self.bundle.item_ids[node - U]) if node >= U else ("user", self.bundle.user_ids[node])

    def _explain(self, u: int, items: list[int], scores: list[float], cold: bool) -> list[dict]:
        if cold:
            pop = self.bundle.popularity
            return [{"item": self.bundle.item_ids[i], "score": s, "exact": True, "method": "popularity",
                     "self": 0.0, "because": [], "rest": s,
                     "text": f"popular: {int(pop[i])} training interactions"} for i, s in zip(items, scores)]
        out = []
        for i, e in zip(items, self.explainer().explain(u, items)):
            top = e["values"].argsort(descending=True, stable=True)[:self.reasons]
            because = []
            for j in top.tolist():
                kind, ident = self._node_id(int(e["nodes"][j]))
                entry = {"kind": kind, "id": ident, "value": float(e["values"][j])}
                if e["by_layer"] is not None:
                    entry["by_layer"] = [float(v) for v in e["by_layer"][:, j]]
                because.append(entry)
            shown = sum(c["value"] for c in because)
            out.append({"item": self.bundle.item_ids[i], "score": e["score"], "exact": e["exact"],
                        "method": e["method"], "self": e["self"], "because": because,
                        "rest": e["score"] - e["self"] - shown,
                        "text": ", ".join(f"because you interacted with {c['id']}" if c["kind"] == "item"
                                          else f"because of user {c['id']}" for c in because[:3])})
        return out

    # ------------------------------------------------------------------ approximate retrieval
    def use_ann(self, index: Any = None, **kwargs) -> "Recommender":
        """Rank with an approximate inner-product index (``None`` builds
        :class:`~darts_gnn.serve.ann.FaissIndex` over the item table with ``kwargs``); returns self."""
        if index is None:
            index = FaissIndex(self.item_emb, **kwargs)
        self.ann = index
        return self
