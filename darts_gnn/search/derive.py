r"""From a trained supernet to a genotype.

* ``argmax`` (DARTS): the candidate with the largest relaxed weight, per choice
  (:meth:`SuperNet.genotype`).
* ``greedy``: fix the choices one at a time, each to the candidate that gives the supernet the best
  *validation ranking metric* (Recall@20 by default) with the choices already fixed one-hot and the
  others still mixed (in the spirit of perturbation-based selection, Wang et al., ICLR 2021). α only
  sets the order of ties; the decision uses the quantity the retrained model is selected on, so it
  does not inherit the scale bias of the BPR loss that trains α (a candidate with larger embedding
  norms lowers BPR without ranking better). Costs ``sum_c K_c`` validation evaluations of the supernet
  (no training), seconds on the benchmark data sets.

Order of ``greedy``: width, depth, combine, then layer by layer (aggregator, transform, skip).
"""
from __future__ import annotations

import torch
from .supernet import ONE_HOT

from ..tasks.base import signed, task_of

__all__ = ["derive_genotype", "greedy_genotype", "DERIVATIONS"]

DERIVATIONS = ("argmax", "greedy")


def _order(model) -> list:
    searched = [c for c in model.choices if c.searched]
    rank = {"width": 0, "depth": 1, "combine": 2}
    return sorted(searched, key=lambda c: (rank.get(c.key, 3), c.layer if c.layer is not None else -1,
                                           ("aggregator", "transform", "skip").index(c.kind)
                                           if c.kind in ("aggregator", "transform", "skip") else 0))


@torch.no_grad()
def greedy_genotype(model, evaluator, metric: str | None = None, split: str = "valid", log=None):
    """Greedy validation-metric derivation (see the module doc). Leaves α as it found it.

    Returns ``(genotype, trace)`` with ``trace`` a list of ``{"choice", "scores": {cand: metric},
    "picked"}``.
    """
    task = task_of(evaluator)        # rating: lowest validation RMSE wins
    metric = metric or (task.monitor if task is not None else
                        "recall@20" if 20 in evaluator.ks else f"recall@{evaluator.ks[0]}")
    rows = dict(model.named_arch_parameters())
    saved = {k: a.detach().clone() for k, a in rows.items()}
    was_training = model.training
    model.eval()
    trace = []
    picked: dict[str, object] = {}
    try:
        for choice in _order(model):
            a = rows[choice.key]
            # layers beyond an already fixed depth do not matter: skip them
            if choice.layer is not None and "depth" in picked and choice.layer >= int(picked["depth"]):
                continue
            scores = {}
            for j, cand in enumerate(choice.candidates):
                a.fill_(-ONE_HOT)
                a[j] = ONE_HOT
                scores[str(cand)] = float(evaluator.evaluate(model, split)[metric])
            key = {c: signed(evaluator, v) for c, v in scores.items()}
            prior = saved[choice.key]
            best = max(range(len(choice.candidates)),
                       key=lambda j: (key[str(choice.candidates[j])], float(prior[j])))
            a.fill_(-ONE_HOT)
            a[best] = ONE_HOT
            picked[choice.key] = choice.candidates[best]
            trace.append({"choice": choice.key, "scores": scores, "picked": str(choice.candidates[best])})
            if log is not None:
                log(f"derive {choice.key}: {choice.candidates[best]} "
                    + " ".join(f"{k}={v:.4f}" for k, v in scores.items()))
        genotype = model.genotype()
    finally:
        for k, a in rows.items():
            a.copy_(saved[k])
        model.train(was_training)
    return genotype, trace


def derive_genotype(model, how: str = "argmax", evaluator=None, log=None):
    """``(genotype, trace)`` by ``how`` (``argmax`` or ``greedy``; greedy needs the validation
    ``evaluator``). ``trace`` is empty for argmax."""
    if how == "argmax":
        return model.genotype(), []
    if how == "greedy":
        if evaluator is None:
            raise ValueError("greedy derivation needs a validation Evaluator")
        return greedy_genotype(model, evaluator, log=log)
    raise ValueError(f"search.derive: got {how!r}; allowed values: {', '.join(DERIVATIONS)}")
