r"""The budget savers of the validated selection (:mod:`darts_gnn.search.select`).

**One-shot pruning** (``search.select_prune``, :func:`prune_by_one_shot`): the one-shot score ranks
close architectures poorly, but an architecture far below the pool's best (one-shot Recall
:math:`s_g < p \cdot \max_h s_h`, default :math:`p = 0.5`) is not worth a retrain. The anchors (the
baseline point) are never pruned.

**The incumbent cut** (``search.select_cut``, :func:`cut_rule`), in the spirit of the median stopping
rule (Golovin et al., "Google Vizier", KDD 2017): a candidate that, after as many epochs as the best
candidate so far ran in all (:math:`E^*`, its patience included), still has a best validation score
below :math:`\rho \cdot S^*` (default :math:`\rho = 0.95`; :math:`S^* / \rho` for a lower-is-better
metric) is stopped there. It keeps its best-so-far weights and score, so it can still be chosen; it
only loses the epochs that would have had to gain more than :math:`1 - \rho` to matter.

**The curve cut** (``search.select_curve_cut``, :func:`curve_rule`), the same rule taken epoch by
epoch: a candidate is stopped at an evaluated epoch :math:`e` once its best validation score so far is
below :math:`\rho_c \cdot R(e)` (default :math:`\rho_c = 0.97`), where :math:`R(e)` is a reference
run's best score up to epoch :math:`e` (its final best after its last epoch). It is judged from its
second evaluation and from a third of the epoch at which the reference peaked on, since architectures
differ in how fast they start. The references: the best run so far trained with the same recipe, and
the incumbent for a run at its learning rate or above (judged from the second evaluation on: a run
behind the baseline trained at a smaller learning rate is not a slow starter). Softmax runs peak after 35-150 epochs and then
spend ``select_patience`` evaluations more; on ml-100k an architecture 5.5% behind LightGCN + softmax
at epoch 10 was still 2.7% behind after 60 (BENCHMARKS.md, issue 9 session 8), so the budget goes to
the next architecture instead.

**The deadline** (:func:`deadline_rule`): a candidate still training when the selection's budget runs
out is stopped at the end of the last epoch that fits (one more, as long as its longest so far,
would overrun the budget) with its best-so-far weights (the last ``patience``
evaluations of a run never improve it, so this usually costs nothing), which makes the budget a cap
rather than a forecast.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from ..tasks.base import better
from ..engine import clock

__all__ = ["prune_by_one_shot", "cut_rule", "curve_rule", "reached", "deadline_rule", "any_rule"]


def reached(score: float, target: float, rho: float, higher_is_better: bool = True) -> bool:
    """Whether ``score`` is within the factor ``rho`` of ``target`` (``>= rho * target``, or
    ``<= target / rho`` when lower is better)."""
    if higher_is_better:
        return score >= rho * target
    return rho > 0 and score <= target / rho


def prune_by_one_shot(pool: Sequence, one_shot: dict, fraction: float, keep: Sequence = ()) -> tuple[list, list]:
    """``(kept, pruned)``: the pool without the genotypes whose one-shot score is below ``fraction`` x
    the best one-shot score in the pool. Genotypes in ``keep`` or without a score stay; nothing is
    pruned when ``fraction`` is 0 or the scores are not all positive (a higher-is-better proxy)."""
    scores = [one_shot[g] for g in pool if g in one_shot]
    if fraction <= 0 or len(scores) < 2 or not all(math.isfinite(v) and v > 0 for v in scores):
        return list(pool), []
    floor = fraction * max(scores)
    kept, pruned = [], []
    for g in pool:
        (pruned if g in one_shot and g not in keep and one_shot[g] < floor else kept).append(g)
    return kept, pruned


def _top(values: Sequence[float], higher_is_better: bool) -> float:
    """The best of ``values`` (the first of equals; :func:`~darts_gnn.tasks.base.better` decides)."""
    out = values[0]
    for v in values[1:]:
        out = v if better(v, out, higher_is_better) else out
    return out


def _rule(metric: str, judge: Callable[[int, list[float]], bool]) -> Callable[[int, dict[str, Any]], bool]:
    """A Trainer ``on_epoch_end(epoch, record)`` callback that collects the run's ``valid/<metric>``
    values and returns ``True`` (stop) on an evaluated epoch where ``judge(epoch, values so far)`` does;
    its ``.fired`` attribute says whether it stopped the run."""
    seen: list[float] = []

    def stop(epoch: int, record: dict[str, Any]) -> bool:
        value = record.get(f"valid/{metric}")
        if value is None:
            return False
        seen.append(float(value))
        if not judge(epoch, seen):
            return False
        stop.fired = True
        return True

    stop.fired = False
    return stop


def cut_rule(best_score: float | None, best_epochs: int, rho: float, metric: str,
             higher_is_better: bool = True) -> Callable[[int, dict[str, Any]], bool] | None:
    """A Trainer ``on_epoch_end(epoch, record)`` callback (module doc) that returns ``True`` (stop)
    once ``epoch >= best_epochs`` and the run's best ``valid/<metric>`` so far is not within ``rho`` of
    ``best_score``; ``None`` when there is no incumbent or ``rho`` is 0. Its ``.fired`` attribute says
    whether it stopped the run."""
    if best_score is None or rho <= 0 or not math.isfinite(best_score):
        return None
    return _rule(metric, lambda epoch, seen: epoch >= best_epochs
                 and not reached(_top(seen, higher_is_better), best_score, rho, higher_is_better))


def curve_rule(reference: Sequence[tuple[int, float]], rho: float, metric: str, higher_is_better: bool = True,
               min_evaluations: int = 2, start_fraction: float = 1 / 3) -> Callable[[int, dict[str, Any]], bool] | None:
    """A Trainer ``on_epoch_end(epoch, record)`` callback (module doc, the curve cut) that returns ``True``
    (stop) once the run's best ``valid/<metric>`` so far is not within ``rho`` of the ``reference``
    curve's best up to that epoch, judged from its ``min_evaluations``-th evaluation and from
    ``start_fraction`` x the epoch of the reference's best score on (architectures differ in how fast
    they start). ``reference``: ``(epoch, score)`` pairs of the run to keep up with
    (:attr:`Candidate.curve`), in epoch order; ``None`` when it is empty or ``rho`` is 0. ``.fired``
    says whether it stopped the run."""
    ref = [(int(e), float(v)) for e, v in reference if math.isfinite(float(v))]
    if rho <= 0 or not ref:
        return None
    best = _top([v for _, v in ref], higher_is_better)
    start = start_fraction * next(e for e, v in ref if v == best)

    def judge(epoch: int, seen: list[float]) -> bool:
        if len(seen) < min_evaluations or epoch < start:
            return False
        target = _top([v for e, v in ref if e <= epoch] or [ref[0][1]], higher_is_better)
        return not reached(_top(seen, higher_is_better), target, rho, higher_is_better)
    return _rule(metric, judge)


def deadline_rule(seconds: float | None) -> Callable[[int, dict[str, Any]], bool] | None:
    """A Trainer ``on_epoch_end`` callback that stops the run at the end of the last epoch that ends
    within ``seconds`` (``None``: no deadline): it stops at time :math:`t` once
    :math:`t + \\max_i \\Delta_i` passes the deadline, :math:`\\Delta_i` being the time between its
    calls so far (the first from when it was made; evaluated epochs are the long ones), so that
    the next epoch would overrun it. ``.fired`` says whether it stopped the run."""
    if seconds is None:
        return None
    start = clock.now()
    end = start + max(0.0, float(seconds))
    seen = {"last": start, "longest": 0.0}

    def stop(epoch: int, record: dict[str, Any]) -> bool:
        now = clock.now()
        seen["longest"] = max(seen["longest"], now - seen["last"])
        seen["last"] = now
        if now + seen["longest"] < end:
            return False
        stop.fired = True
        return True

    stop.fired = False
    return stop


def any_rule(*rules) -> Callable[[int, dict[str, Any]], bool] | None:
    """One ``on_epoch_end`` callback that asks every rule (``None`` entries skipped; each is asked, so
    that each keeps its own state) and stops when any says so; ``None`` when there are none."""
    rules = [r for r in rules if r is not None]
    if not rules:
        return None
    return lambda epoch, record: any([bool(r(epoch, record)) for r in rules])
