r"""The selection's lead stage: which recipe the architecture stage trains with, decided first.

The recipe grid (:func:`~darts_gnn.search.recipe.default_grid`) is tried on one or a few **lead
targets** before the pool; when one of those runs beats every run so far, the incumbent included,
its ``(Recipe, norm)`` becomes the **lead** and the pool is trained with it instead of the short BPR
recipe (``search.select_lead``). The target is the strategy's first-ranked architecture
(``search.select_lead_on: top``, the default: the lead run is then already one of the search's own
architectures, and the baseline point gets the grid only when no recipe won there) or the config's
baseline point (LightGCN; ``baseline``). Helpers shared with
:mod:`darts_gnn.search.select`: a genotype with a recipe's ``lr``, its recipe variants, its
architecture alone, whether a grid entry is the short BPR recipe.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from .recipe import Recipe
from .selection_result import INCUMBENT
from .selection_result import best as _best

__all__ = ["lead_targets", "LEAD_ON", "LEAD_TOP_SHARE"]

#: Values of ``search.select_lead_on``.
LEAD_ON = ("baseline", "top")

#: With ``select_lead_on: top``, the share of the selection budget left that a lead run on the
#: search's first architecture may use: the rest stays for the baseline point's grid when no recipe
#: wins there (a slow first architecture took 1.4x a baseline training on ml-100k and left an
#: evolutionary run nothing for it: BENCHMARKS.md, issue 9 session 17).
LEAD_TOP_SHARE = 0.5


def _with_lr(genotype, lr: float):
    """``genotype`` with a recipe whose ``lr`` is set (kept when the recipe already names one)."""
    r = genotype.recipe or Recipe()
    return genotype.with_(recipe=r if r.lr is not None else dataclasses.replace(r, lr=lr))


def _recipe_variants(genotype, grid: list, lr: float):
    """``genotype`` once per grid entry: with that recipe (``lr`` when it names none) and its ``norm``."""
    for r, norm in grid:
        g = genotype.with_(recipe=r if r.lr is not None else dataclasses.replace(r, lr=lr))
        yield g if norm is None else g.with_(norm=norm)


def _architecture(genotype):
    """``genotype`` without its training recipe and output normalisation: the architecture alone."""
    return genotype.with_(recipe=None, norm=False)


def _short_bpr(entry, lr: float) -> bool:
    """Whether a grid entry is the architecture stage's own recipe (BPR, one negative, the selection's
    ``lr`` and the ``train`` section's L2, the architecture's ``norm``)."""
    r, norm = entry
    return norm is None and r.loss == "bpr" and r.negatives == 1 and r.lr in (None, lr) and r.l2 is None


def lead_targets(pool: Sequence, anchors: Sequence, s) -> list:
    """The architectures the lead stage gives the recipe grid: the ``anchors`` (the baseline point)
    with ``search.select_lead_on: baseline``; with ``top``, the first architecture of the ranked
    ``pool`` that names no recipe of its own (the strategy's best-ranked one: DARTS's best one-shot
    score, random search's best short run), when there are anchors at all (else none, as before)."""
    if getattr(s, "select_lead_on", "top") != "top" or not anchors:
        return list(anchors)
    first = next((g for g in pool if g.recipe is None), None)
    return [first] if first is not None else list(anchors)


def _anchor_recipes(done: Sequence, anchors: Sequence, grid: list, s, skip_short: bool = False):
    """The lead stage's runs: every grid entry on each anchor, recipe-major, except the short BPR
    recipe on an architecture the incumbent stands in for (on every target with ``skip_short``: the
    architecture stage trains it when no recipe leads)."""
    standing = {_architecture(c.genotype) for c in done if c.stage == INCUMBENT}
    for entry in grid:
        for a in anchors:
            if not (_short_bpr(entry, s.select_lr) and (skip_short or _architecture(a) in standing)):
                yield next(_recipe_variants(a, [entry], s.select_lr))


def _lead(done: Sequence, metric: str, hib: bool, own: Sequence = ()):
    """The ``(Recipe, norm)`` the architecture stage trains with: the recipe of the best run so far
    when that is one of the anchors' recipe runs or a lead run on one of the architectures ``own``
    (it beat the incumbent), else ``None`` (the short BPR recipe, ``select_lr``)."""
    if not done:
        return None
    best = _best(done, metric, hib)
    mine = best.stage == "architecture" and _architecture(best.genotype) in {_architecture(g) for g in own}
    if best.stage != "recipe" and not mine:
        return None
    return best.genotype.recipe, best.genotype.norm


def _screened(genotype, lead, lr: float):
    """``genotype`` as the architecture stage trains it: with the ``lead`` recipe and norm (a genotype
    that names no recipe of its own), else with the short BPR recipe at ``lr``."""
    if lead is None or genotype.recipe is not None:
        return _with_lr(genotype, lr)
    return genotype.with_(recipe=lead[0], norm=lead[1])


def _stood_in(genotype, lead, incumbent) -> bool:
    """Whether the architecture stage skips ``genotype``: the incumbent stands in for its
    architecture's short BPR run (no ``lead`` recipe)."""
    return lead is None and incumbent is not None and _architecture(genotype) == _architecture(incumbent.genotype)


def _shallow_first(shallow: Sequence, lead, s) -> list:
    """The shallow candidates to retrain first (``search.select_shallow``): all of ``shallow`` when the
    architecture stage trains with a ``lead`` recipe while the supernet was trained with BPR
    (``supernet_objective: bpr``), else none. The one-shot score ranks depths as BPR retrains rank them
    (deep, normalised propagation first); under another objective (sampled softmax on cosine scores)
    shallow models do as well, and the baseline point, already trained with that recipe, stands for
    the deep end (BENCHMARKS.md, issue 9 sessions 10 and 11)."""
    if not s.select_shallow or lead is None or s.supernet_objective != "bpr":
        return []
    return list(shallow)
