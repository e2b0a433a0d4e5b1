r"""One method under two settings, paired by (data set, seed) over ``bench_issue9`` reports.

``--a`` and ``--b`` are two sets of ``bench_issue9.json`` reports (e.g. ``search.select_lead_on: top``
against the default order, run in different sessions); ``--method`` names the row both hold
(``darts``, ``random``, ``evolution``). Per data set the difference :math:`a_s - b_s` of each test
metric over the seeds both ran, its paired t and a's wins / losses / ties; pooled, the relative
difference :math:`a_s / b_s - 1` with its one-sided 95% lower confidence bound
(:mod:`paired_table`)::

    python benchmarks/setting_diff.py --method darts --a TOP.json ... --b DEFAULT.json ... --names top default

A report set with no row of ``--method`` is refused in one line (exit 2).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_issue9 import merge  # noqa: E402
from paired_table import paired_markdown  # noqa: E402

METRICS = ("recall@20", "ndcg@20")


def pair_settings(a_paths, b_paths, method: str, names=("a", "b")) -> dict:
    """A report whose rows hold ``names`` (the first setting's, the second's): ``method``'s row of each
    (data set, seed) in the reports ``a_paths`` and ``b_paths`` (merged as :func:`bench_issue9.merge` merges)."""
    a, b = merge(a_paths), merge(b_paths)
    out: dict = {"datasets": {}}
    for label, rep in (("a", a), ("b", b)):
        if not any(method in r for rows in rep["datasets"].values() for r in rows):
            raise ValueError(f"--{label}: no report holds a {method!r} row")
    for name, rows in a["datasets"].items():
        other = {r["seed"]: r for r in b["datasets"].get(name, [])}
        out["datasets"][name] = [{"seed": r["seed"], names[0]: r[method], names[1]: other[r["seed"]][method]}
                                 for r in rows if method in r and method in other.get(r["seed"], {})]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="darts", help="the row both settings hold (darts, random, evolution)")
    p.add_argument("--a", nargs="+", required=True, metavar="JSON", help="reports of the first setting")
    p.add_argument("--b", nargs="+", required=True, metavar="JSON", help="reports of the second setting")
    p.add_argument("--names", nargs=2, default=["a", "b"], metavar=("A", "B"),
                   help="what the tables call the two settings (default: a b)")
    args = p.parse_args(argv)
    if args.names[0] == args.names[1]:
        p.error("--names: expected two different names")
    try:
        report = pair_settings(args.a, args.b, args.method, tuple(args.names))
    except (OSError, ValueError, KeyError) as e:
        print(f"setting_diff: {e}", file=sys.stderr)
        return 2
    text = paired_markdown(report, args.names[0], [args.names[1]], METRICS)
    if not text:
        print(f"setting_diff: the two settings share no (data set, seed) of {args.method}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
