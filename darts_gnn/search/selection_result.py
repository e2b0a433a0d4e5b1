"""What the validated selection (:mod:`darts_gnn.search.select`) produces: the retrained
:class:`Candidate` entries, their ranking (:func:`ranked`, :func:`best`), the :class:`SelectionResult`,
and its diagnostics (:func:`diagnose`; the rank correlation :func:`spearman`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..tasks.base import better

__all__ = ["INCUMBENT", "PROXY_WARN", "MIN_POOL_FOR_PROXY", "RESOLUTION_WARN", "spearman", "Candidate",
           "SelectionResult", "ranked", "best", "diagnose"]

#: The stage of the incumbent: the config's baseline model trained with the ``train`` section's own
#: recipe and full protocol (``search.select_incumbent``), which every other candidate must beat.
INCUMBENT = "incumbent"
#: Below this Spearman correlation the one-shot proxy is called uninformative.
PROXY_WARN = 0.3
#: Fewer scored candidates than this: no correlation is reported.
MIN_POOL_FOR_PROXY = 3
#: The paired test's resolution, ``z x se / incumbent score`` (the smallest relative lead it accepts),
#: above which the selection warns that validation is too small to trust a pick. Measured: 1.9-3.8% on
#: the benchmarks' data sets, where validated picks held on test; 7.2-8.9% on a 1,195-user Gowalla
#: subsample, where one did not (BENCHMARKS.md, issue 9 session 14; benchmarks/incumbent_threshold.py).
RESOLUTION_WARN = 0.05


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two equally long sequences (average ranks for ties);
    ``nan`` for fewer than 2 pairs or a constant sequence."""
    if len(a) != len(b):
        raise ValueError(f"spearman: lengths differ ({len(a)} and {len(b)})")
    if len(a) < 2:
        return math.nan

    def ranks(x: Sequence[float]) -> list[float]:
        order = sorted(range(len(x)), key=lambda i: x[i])
        r = [0.0] * len(x)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2.0
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb) if va > 0 and vb > 0 else math.nan


@dataclass
class Candidate:
    """One retrained candidate: its genotype (recipe included), best validation metrics,
    training seconds and epochs, the one-shot score it had (``None`` if not scored), its stage;
    ``shallow``: the selection's shallow candidate (``search.select_shallow``), not a pick of the search."""
    genotype: Any
    valid: dict[str, float]
    seconds: float
    epochs: int
    one_shot: float | None = None
    stage: str = "architecture"
    cut: bool = False
    deadline: bool = False
    per_user: Any = field(default=None, repr=False, compare=False)   # [U] validation scores (paired test)
    curve: tuple = field(default=(), repr=False, compare=False)      # ((epoch, valid metric), ...) (curve cut)
    shallow: bool = False

    def score(self, metric: str) -> float:
        return float(self.valid.get(metric, math.nan))

    def to_dict(self) -> dict[str, Any]:
        return {"genotype": self.genotype.summary(), "valid": self.valid, "seconds": self.seconds,
                "epochs": self.epochs, "one_shot": self.one_shot, "stage": self.stage, "cut": self.cut,
                "deadline": self.deadline, "curve": [list(p) for p in self.curve], "shallow": self.shallow}


@dataclass
class SelectionResult:
    """What :func:`select_genotype` returns: the ``winner`` (by validation ``metric``), every
    retrained ``candidates`` entry, ``seconds`` spent, the proxy diagnostics (``spearman`` over the
    one-shot-scored architectures, ``nan`` when fewer than :data:`MIN_POOL_FOR_PROXY`) and
    ``warnings`` (text for the user), ``skipped`` (genotypes not retrained for lack of budget),
    ``reserve_seconds`` (the predicted final retrain of the winner the budget kept free), ``pruned``
    (architectures not retrained: one-shot score far below the pool's best,
    :func:`~darts_gnn.search.early_cut.prune_by_one_shot`), ``paired`` (the best candidate against the
    incumbent on the same validation users: ``gain``, ``se``, ``z``, ``kept_incumbent``, ``resolution``
    = ``z * se / |incumbent score|``, the smallest relative lead the test accepts (``None`` without a
    test); :mod:`~darts_gnn.search.paired`)."""
    winner: Any
    candidates: list[Candidate]
    seconds: float
    metric: str
    spearman: float = math.nan
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    higher_is_better: bool = True
    reserve_seconds: float = 0.0
    pruned: list = field(default_factory=list)
    paired: dict = field(default_factory=dict)

    @property
    def best(self) -> Candidate:
        """The winner's candidate entry."""
        return next(c for c in self.candidates if c.genotype == self.winner)

    def table(self) -> str:
        """One line per retrained candidate, the winner marked with ``*``, a candidate stopped by the
        incumbent cut or the deadline (:mod:`~darts_gnn.search.early_cut`) with ``~`` and the reason
        (the incumbent and the shallow candidate named as such); then the architectures pruned by their
        one-shot score."""
        lines = []
        for c in self.candidates:
            mark = "*" if c.genotype == self.winner else ("~" if c.cut or c.deadline else " ")
            shot = f"{c.one_shot:.4f}" if c.one_shot is not None else "   -  "
            why = " (cut)" if c.cut else (" (deadline)" if c.deadline else "")
            why += " (incumbent: the train section's protocol)" if c.stage == INCUMBENT else ""
            why += " (shallow candidate, search.select_shallow)" if c.shallow else ""
            lines.append(f"{mark} valid {self.metric}={c.score(self.metric):.4f}  one-shot={shot}  "
                         f"{c.seconds:6.1f} s  {c.genotype.summary()}{why}")
        lines += [f"- pruned (one-shot score below the pool's best x search.select_prune): {g.summary()}"
                  for g in self.pruned]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"winner": self.winner.to_dict(), "metric": self.metric, "seconds": self.seconds,
                "spearman": None if math.isnan(self.spearman) else self.spearman,
                "warnings": list(self.warnings), "skipped": self.skipped,
                "reserve_seconds": self.reserve_seconds, "pruned": [g.summary() for g in self.pruned],
                "paired": dict(self.paired),
                "candidates": [c.to_dict() for c in self.candidates]}


def ranked(candidates: Sequence[Candidate], metric: str, higher_is_better: bool = True) -> list[Candidate]:
    """``candidates`` best first by validation ``metric`` (stable: earlier wins a tie)."""
    out: list[Candidate] = []
    for c in candidates:
        i = next((k for k, o in enumerate(out)
                  if better(c.score(metric), o.score(metric), higher_is_better)), len(out))
        out.insert(i, c)
    return out


def best(candidates: Sequence[Candidate], metric: str, higher_is_better: bool = True) -> Candidate:
    """The first of :func:`ranked`."""
    return ranked(candidates, metric, higher_is_better)[0]


def diagnose(result: SelectionResult) -> None:
    """Fill ``spearman`` and ``warnings`` (proxy quality, budget)."""
    scored = [c for c in result.candidates if c.stage == "architecture" and c.one_shot is not None]
    if len(scored) >= MIN_POOL_FOR_PROXY:
        result.spearman = spearman([c.one_shot for c in scored], [c.score(result.metric) for c in scored])
    if math.isnan(result.spearman):
        result.warnings.append(f"one-shot proxy: not enough distinct scored candidates to judge it "
                               f"({len(scored)} retrained, need {MIN_POOL_FOR_PROXY}); selection rests on "
                               f"the retrained validation scores alone")
    elif result.spearman < PROXY_WARN:
        result.warnings.append(f"one-shot proxy is uninformative: Spearman {result.spearman:+.2f} between "
                               f"one-shot and retrained validation {result.metric} over {len(scored)} "
                               f"candidates (< {PROXY_WARN}); the supernet's ranking should not be trusted")
    if result.paired.get("kept_incumbent"):
        top, p = best(result.candidates, result.metric), result.paired
        result.warnings.append(f"the best candidate ({top.genotype.summary()}) leads the incumbent by "
                               f"{p['gain']:+.4f} valid {result.metric}, within {p['z']} x its paired standard "
                               f"error ({p['se']:.4f}) over the same users: the incumbent (the train section's "
                               f"protocol) is kept (search.select_incumbent_z)")
    res = result.paired.get("resolution")
    if res is not None and res > RESOLUTION_WARN:
        p = result.paired
        result.warnings.append(f"validation resolution: the paired test accepts only leads above {100 * res:.1f}% "
                               f"of the incumbent's valid {result.metric} ({p['z']} x se {p['se']:.4f}; warned "
                               f"above {100 * RESOLUTION_WARN:.0f}%): on a validation split this small a pick may "
                               f"not hold on test; compare several seeds (darts-gnn search --seeds N "
                               f"--compare-baseline) before trusting it")
    shallow = [c for c in result.candidates if c.shallow]
    if shallow and result.winner == shallow[0].genotype:
        result.warnings.append(f"the winner is the shallow candidate ({shallow[0].genotype.summary()}, "
                               f"search.select_shallow), not a pick of the search: under its recipe none of the "
                               f"search's retrained architectures beat it on validation {result.metric}")
    if result.skipped and not any(c.stage == "architecture" and not c.shallow for c in result.candidates):
        result.warnings.append(f"selection budget: none of the search's architectures was retrained "
                               f"({result.skipped} skipped: the budget went to the search itself, the "
                               f"incumbent{', the shallow candidate' if shallow else ''} and the baseline "
                               f"point's recipe runs), so the search did not shape the result; raise "
                               f"search.budget_factor")
    elif result.skipped:
        result.warnings.append(f"selection budget: {result.skipped} candidate(s) skipped; raise "
                               f"search.budget_factor or lower search.select_pool")
