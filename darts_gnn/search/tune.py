r"""A tuned baseline: the config's hand-designed model with its lr and L2 chosen on validation.

The fair opponent of a search is not the baseline at its paper defaults but the baseline whose
training hyperparameters were tuned with the same budget and the same validation-only rule. Each
point of a small ``lr`` x ``l2`` grid (BPR, the model's own scores) is trained with the selection's
short complete protocol (``search.select_patience``, early stop on validation), through the same
:func:`~darts_gnn.search.select.select_genotype` budget accounting (a run starts only if it and the
final retrain's reserve still fit); the best by validation Recall@20 is then retrained with the
``train`` section's full protocol and tested by the caller.

.. code-block:: python

    res = tune_baseline(cfg, dataset, graph, evaluator, budget_seconds=600.0)
    res.winner.recipe            # Recipe(lr=0.005, l2=0.001), say
"""
from __future__ import annotations

from typing import Callable, Sequence

from .pool import baseline_genotype
from .recipe import Recipe
from .select import SelectionResult, select_genotype

__all__ = ["BASELINE_GRID", "baseline_grid", "tune_baseline"]

#: ``(lr, l2)`` points tried, cheapest first (a larger lr early-stops sooner), so that a tight
#: budget keeps the runs most likely to finish; the paper's LightGCN setting is ``(1e-3, 1e-4)``.
BASELINE_GRID: tuple[tuple[float, float], ...] = (
    (5e-3, 1e-4), (5e-3, 1e-3), (5e-3, 3e-3), (1e-3, 1e-4), (1e-3, 1e-3), (1e-2, 1e-3),
)


def baseline_grid(points: Sequence[tuple[float, float]] = BASELINE_GRID) -> list[Recipe]:
    """BPR recipes, one per ``(lr, l2)`` point (raises ``SpaceError`` on an out-of-range value)."""
    return [Recipe(lr=float(lr), l2=float(l2)) for lr, l2 in points]


def tune_baseline(cfg, dataset, graph, evaluator, budget_seconds: float | None,
                  grid: Sequence[Recipe] | None = None,
                  log: Callable[[str], None] | None = None) -> SelectionResult:
    """Train the config's baseline model (``model.name``: ``lightgcn`` or ``mf``) once per recipe of
    ``grid`` (default :func:`baseline_grid`) with the short protocol, within ``budget_seconds``
    (search-free: the whole budget, final retrain's reserve included); the winner by validation only.

    Returns the :class:`~darts_gnn.search.select.SelectionResult` (``winner``: the baseline genotype
    with the chosen recipe). Raises ``ValueError`` for a model that is not a point of the space."""
    base = baseline_genotype(cfg.model)
    if base is None:
        raise ValueError(f"tune_baseline: model.name={cfg.model.name!r} has no genotype; "
                         f"expected lightgcn or mf")
    recipes = list(grid) if grid is not None else baseline_grid()
    pool = [base.with_(recipe=r) for r in recipes]
    return select_genotype(pool, dataset, graph, cfg, evaluator, recipes=[], pool_size=len(pool),
                           budget_seconds=budget_seconds, log=log)
