r"""How far apart the selection's finished candidates were on validation, against the noise of one
comparison.

Reads ``bench_issue9`` reports (merged as ``bench_issue9.py --merge`` merges them). For every DARTS and
random-search run that kept its candidates, the *finished* candidates are the runs that trained to
their own stopping point: not the incumbent, not stopped by a cut or the deadline. Printed per run:

- ``finished``: how many; ``range``: their best minus their worst validation Recall@20;
- ``se``: the standard error of the paired comparison that run recorded (winner against incumbent,
  per validation user; a comparison of two candidates on the same users has about the same);
- ``tied``: how many finished candidates lie within :math:`z \cdot se` of the best one (the best
  included): the paired test could not tell them from the winner.

and per data set the medians. No training is run.

    python benchmarks/pool_spread.py benchmarks/results/issue9_s1[2345]/*.json
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_issue9 import merge  # noqa: E402

STRATEGIES = ("darts", "random")
METRIC = "recall@20"


def valid_score(c: dict) -> float:
    """A recorded candidate's validation Recall@20 (a mapping of metrics, or the number itself)."""
    v = c.get("valid")
    return float(v[METRIC] if isinstance(v, dict) else v)


def spreads(report: dict) -> list[dict]:
    """One entry per (data set, seed, strategy) with candidates and a recorded paired ``se``."""
    out = []
    for name, rows in report["datasets"].items():
        for r in rows:
            for key in STRATEGIES:
                x = r.get(key)
                if not x or not x.get("candidates") or not (x.get("paired") or {}).get("se"):
                    continue
                p = x["paired"]
                done = sorted((valid_score(c) for c in x["candidates"] if c.get("stage") != "incumbent"
                               and not c.get("cut") and not c.get("deadline")), reverse=True)
                z = p.get("z") or 1.645
                out.append({"dataset": name, "seed": r["seed"], "method": key, "finished": len(done),
                            "range": done[0] - done[-1] if done else math.nan, "se": p["se"],
                            "tied": sum(done[0] - v <= z * p["se"] for v in done) if done else 0})
    return out


def table(runs: list[dict]) -> str:
    lines = ["| data set | seed | method | finished | range | se | tied with the best |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['seed']} | {r['method']} | {r['finished']} | {r['range']:.4f} | {r['se']:.4f} | "
              f"{r['tied']} |" for r in runs]
    lines += ["", "| data set | runs | median finished | median range | median se | median tied |",
              "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["dataset"] for r in runs):
        got = [r for r in runs if r["dataset"] == name]
        ranges = [r["range"] for r in got if not math.isnan(r["range"])]
        med = statistics.median
        lines.append(f"| {name} | {len(got)} | {med(r['finished'] for r in got):g} | "
                     f"{med(ranges) if ranges else math.nan:.4f} | {med(r['se'] for r in got):.4f} | "
                     f"{med(r['tied'] for r in got):g} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("reports", nargs="+", metavar="JSON")
    args = p.parse_args(argv)
    print(table(spreads(merge(args.reports))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
