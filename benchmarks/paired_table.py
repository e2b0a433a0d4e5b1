r"""Paired comparisons of one method against others over the seeds of merged ``bench_issue9`` reports.

Per data set, for each seed where both ran, the difference :math:`d_s = a_s - b_s` of the test metric
(``a`` the method, ``b`` the other one); its mean, the paired t statistic
:math:`t = \bar d / (s_d / \sqrt n)` and the method's wins / losses / ties.

Pooled over every data set in the reports, the *relative* difference :math:`r_s = a_s / b_s - 1`
(so that data sets with different score levels weigh alike), its mean, ``t``, and the one-sided 95%
lower confidence bound :math:`\bar r - t_{0.95,\,n-1}\, s_r / \sqrt n`. That bound is a
non-inferiority statement: with 95% confidence the method is not worse than the other one by more
than ``-bound`` (when the bound is negative), or it is better (when it is positive).
"""
from __future__ import annotations

import math
import statistics

__all__ = ["student_t_quantile", "paired_rows", "pooled_rows", "paired_markdown"]


def _t_pdf(x: float, df: int) -> float:
    c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(c - (df + 1) / 2 * math.log1p(x * x / df))


def _t_cdf(x: float, df: int, steps: int = 2000) -> float:
    """``P(T <= x)`` for ``x >= 0`` by Simpson's rule on ``[0, x]``."""
    h = x / steps
    s = _t_pdf(0.0, df) + _t_pdf(x, df)
    s += sum((4 if k % 2 else 2) * _t_pdf(k * h, df) for k in range(1, steps))
    return 0.5 + s * h / 3


def student_t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (``0.5 <= p < 1``) of Student's t with ``df >= 1`` degrees of freedom, by
    bisection on the CDF (``student_t_quantile(0.95, 4)`` is 2.132)."""
    if not 0.5 <= p < 1 or df < 1:
        raise ValueError(f"student_t_quantile: expected 0.5 <= p < 1 and df >= 1, got p={p}, df={df}")
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        lo, hi = hi, 2 * hi
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def _stats(d: list[float]) -> tuple[float, float, float]:
    """``(mean, standard error, t)``; ``se`` and ``t`` are ``nan`` below two values or at zero spread."""
    m = statistics.fmean(d)
    if len(d) < 2:
        return m, math.nan, math.nan
    se = statistics.stdev(d) / math.sqrt(len(d))
    return m, se, (m / se if se > 0 else math.nan)


def _pairs(rows, key: str, other: str, metric: str) -> list[tuple[float, float]]:
    return [(r[key][metric], r[other][metric]) for r in rows if key in r and other in r]


def paired_rows(report: dict, key: str, others, metrics) -> list[dict]:
    """Per data set, ``other`` and ``metric``: ``{dataset, other, metric, n, mean, t, wins, losses, ties}``
    of ``key`` minus ``other`` over the seeds where both ran (rows with no such seed are left out)."""
    out = []
    for name, rows in report["datasets"].items():
        for other in others:
            for metric in metrics:
                pairs = _pairs(rows, key, other, metric)
                if not pairs:
                    continue
                d = [a - b for a, b in pairs]
                mean, _, t = _stats(d)
                out.append({"dataset": name, "other": other, "metric": metric, "n": len(d), "mean": mean,
                            "t": t, "wins": sum(x > 0 for x in d), "losses": sum(x < 0 for x in d),
                            "ties": sum(x == 0 for x in d)})
    return out


def pooled_rows(report: dict, key: str, others, metrics, level: float = 0.95) -> list[dict]:
    """Per ``other`` and ``metric``, over every (data set, seed) pair: ``{other, metric, n, datasets,
    mean, t, bound}`` of the relative difference ``key / other - 1``, ``bound`` its one-sided ``level``
    lower confidence bound (``nan`` below two pairs)."""
    out = []
    for other in others:
        for metric in metrics:
            rel, names = [], set()
            for name, rows in report["datasets"].items():
                pairs = _pairs(rows, key, other, metric)
                rel += [a / b - 1 for a, b in pairs]
                names |= {name} if pairs else set()
            if not rel:
                continue
            mean, se, t = _stats(rel)
            bound = mean - student_t_quantile(level, len(rel) - 1) * se if len(rel) > 1 else math.nan
            out.append({"other": other, "metric": metric, "n": len(rel), "datasets": len(names),
                        "mean": mean, "t": t, "bound": bound})
    return out


def _num(x: float, fmt: str, unit: str = "") -> str:
    """``x`` formatted with ``unit``, or a dash for ``nan`` (one seed: no t, no bound)."""
    return "—" if math.isnan(x) else format(x, fmt) + unit


def paired_markdown(report: dict, key: str, others, metrics) -> str:
    """The two tables (per data set, pooled) as markdown, empty when ``key`` shares no seed with any other."""
    per, pooled = paired_rows(report, key, others, metrics), pooled_rows(report, key, others, metrics)
    if not per:
        return ""
    lines = ["", f"Paired differences, {key} minus the other method (mean, paired t; {key}'s wins / losses / ties):",
             "", "| data set | vs | metric | seeds | difference | t | W / L / T |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['other']} | {r['metric']} | {r['n']} | {r['mean']:+.4f} | {_num(r['t'], '+.2f')} | "
              f"{r['wins']} / {r['losses']} / {r['ties']} |" for r in per]
    lines += ["", f"Pooled over data sets, relative ({key} / other - 1); bound = one-sided 95% lower confidence bound:",
              "", "| vs | metric | pairs | data sets | mean | t | 95% lower bound |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['other']} | {r['metric']} | {r['n']} | {r['datasets']} | {100 * r['mean']:+.2f}% | "
              f"{_num(r['t'], '+.2f')} | {_num(100 * r['bound'], '+.2f', '%')} |" for r in pooled]
    return "\n".join(lines) + "\n"
