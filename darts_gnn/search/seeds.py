r"""Several seeds of a search against the baseline: mean ± std and a plain verdict.

.. code-block:: python

    cfgs = seed_configs(cfg, 3)                        # train.seed / search.seed + 0, 1, 2
    reports = [run_search(c, compare_baseline=True) for c in cfgs]
    print(compare_text(summarise(reports)))

The verdict counts the searched model as better only when its mean is ahead on *every* compared
metric; with several seeds it also says whether the margin exceeds the larger of the two standard
deviations (a margin inside the seed spread is not a clear win).
"""
from __future__ import annotations

import dataclasses
import statistics
from typing import Any, Sequence

__all__ = ["seed_configs", "summarise", "compare_text"]


def seed_configs(cfg, n: int) -> list:
    """``n`` copies of ``cfg`` with ``train.seed`` and ``search.seed`` advanced by ``0 .. n-1`` (the
    data split keeps ``data.seed``: every seed sees the same train / validation / test)."""
    if n < 1:
        raise ValueError(f"--seeds: expected a positive integer, got {n}")
    base_search = cfg.search.seed if cfg.search.seed is not None else cfg.train.seed
    out = []
    for i in range(n):
        train = dataclasses.replace(cfg.train, seed=cfg.train.seed + i)
        search = dataclasses.replace(cfg.search, seed=base_search + i)
        out.append(dataclasses.replace(cfg, train=train, search=search))
    return out


def _ms(values: Sequence[float]) -> tuple[float, float]:
    m = statistics.fmean(values)
    return m, (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(reports: Sequence, metrics: Sequence[str] = ("recall@20", "ndcg@20")) -> dict[str, Any]:
    """``{"seeds", "metrics": {name: {"searched": [mean, std], "baseline": [mean, std] | None,
    "relative": gain | None, "beats": bool | None, "clear": bool | None}}, "beats": bool | None,
    "genotypes": [...]}`` over the reports of one search per seed (``report.test``,
    ``report.baseline["test"]``)."""
    out: dict[str, Any] = {"seeds": len(reports), "metrics": {},
                           "genotypes": [r.genotype.summary() for r in reports]}
    verdicts = []
    for name in metrics:
        s = [float(r.test[name]) for r in reports if name in r.test]
        b = [float(r.baseline["test"][name]) for r in reports if r.baseline and name in r.baseline["test"]]
        if not s:
            continue
        row: dict[str, Any] = {"searched": list(_ms(s)), "baseline": None, "relative": None,
                               "beats": None, "clear": None}
        if b:
            (sm, ss), (bm, bs) = _ms(s), _ms(b)
            row.update(baseline=[bm, bs], relative=(sm - bm) / bm if bm else None, beats=sm > bm,
                       clear=(sm - bm) > max(ss, bs) if len(s) > 1 else None)
            verdicts.append(sm > bm)
        out["metrics"][name] = row
    out["beats"] = all(verdicts) if verdicts else None
    return out


def compare_text(summary: dict[str, Any], baseline_name: str = "baseline") -> str:
    """The console lines of :func:`summarise`: one line per metric and the verdict."""
    n = summary["seeds"]
    lines = [f"searched vs {baseline_name} over {n} seed{'s' if n > 1 else ''} (test, mean ± std):"]
    for name, row in summary["metrics"].items():
        sm, ss = row["searched"]
        line = f"  {name}: searched {sm:.4f} ± {ss:.4f}"
        if row["baseline"] is not None:
            bm, bs = row["baseline"]
            rel = f"{100 * row['relative']:+.1f}%" if row["relative"] is not None else "n/a"
            line += f" vs {baseline_name} {bm:.4f} ± {bs:.4f} ({rel})"
            if row["clear"] is False and row["beats"]:
                line += " - inside the seed spread"
        lines.append(line)
    if summary["beats"] is None:
        lines.append("  no baseline was trained (add --compare-baseline)")
    elif summary["beats"]:
        lines.append(f"  the searched model beats {baseline_name} on every metric's mean")
    else:
        lines.append(f"  the searched model does NOT beat {baseline_name}")
    return "\n".join(lines)
