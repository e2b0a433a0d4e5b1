r"""What the selection's incumbent threshold decided, and what a multiplicity-corrected one would have.

Reads ``bench_issue9`` reports (merged as ``bench_issue9.py --merge`` merges them) and, for every
DARTS and random-search run that recorded its paired test (``paired.gain``, ``paired.se``) and its
candidates, prints:

- ``resolution``: :math:`z \cdot se / v_0`, the smallest relative lead the paired test accepts
  (:math:`v_0` the incumbent's validation score, the LightGCN reference's ``best_valid``);
- per data set, the mean test gain over LightGCN as decided (shipped ``z``) and re-decided with the
  Šidák threshold :math:`\Phi^{-1}(0.95^{1/k})` for the run's ``k`` challengers (every retrained
  candidate but the incumbent). A run that would now keep the incumbent gets LightGCN's test score:
  the incumbent is the LightGCN reference of the same process. No training is run.

Evolution's reports do not keep their candidates, so its runs are left out.

    python benchmarks/incumbent_threshold.py benchmarks/results/issue9_s1[234]/*.json
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path
from statistics import NormalDist

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_issue9 import METRICS, merge  # noqa: E402

STRATEGIES = ("darts", "random")


def runs(report: dict) -> list[dict]:
    """One entry per (data set, seed, strategy) with a recorded paired test."""
    out = []
    for name, rows in report["datasets"].items():
        for r in rows:
            for key in STRATEGIES:
                x = r.get(key)
                if not x or not x.get("candidates") or not x.get("paired"):
                    continue
                p = x["paired"]
                k = sum(c.get("stage") != "incumbent" for c in x["candidates"])
                z = p["gain"] / p["se"] if p.get("gain") is not None and p.get("se") else math.nan
                base = r["lightgcn"].get("best_valid", {}).get("recall@20")
                out.append({"dataset": name, "seed": r["seed"], "method": key, "z": z, "k": k,
                            "kept": bool(p.get("kept_incumbent")), "threshold": p.get("z", 1.645),
                            "resolution": p["z"] * p["se"] / base if p.get("se") and base else math.nan,
                            "gain": {m: x[m] / r["lightgcn"][m] - 1 for m in METRICS}})
    return out


def redecided_gain(run: dict, metric: str, sidak: bool) -> float:
    """The run's test gain over LightGCN had the incumbent been kept unless ``z`` cleared the threshold."""
    thr = NormalDist().inv_cdf(0.95 ** (1 / max(1, run["k"]))) if sidak else run["threshold"]
    keep = run["kept"] or (not math.isnan(run["z"]) and run["z"] <= thr)
    return 0.0 if keep else run["gain"][metric]


def table(all_runs: list[dict]) -> str:
    lines = ["| data set | seed | method | z | k | resolution |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['seed']} | {r['method']} | {r['z']:.2f} | {r['k']} | "
              f"{100 * r['resolution']:.1f}% |" for r in all_runs if not math.isnan(r["z"])]
    lines += ["", "| data set | runs | shipped z: R / N vs LightGCN | Šidák z: R / N vs LightGCN |",
              "|---|---|---|---|"]
    for name in dict.fromkeys(r["dataset"] for r in all_runs):
        got = [r for r in all_runs if r["dataset"] == name]
        cells = [" / ".join(f"{100 * statistics.fmean(redecided_gain(r, m, s) for r in got):+.1f}%" for m in METRICS)
                 for s in (False, True)]
        lines.append(f"| {name} | {len(got)} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("reports", nargs="+", metavar="JSON")
    args = p.parse_args(argv)
    print(table(runs(merge(args.reports))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
