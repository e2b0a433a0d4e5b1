"""``darts-gnn recommend``: top-K unseen items for users, from a run directory or an exported bundle.

Ranking, masking and ties are those of :class:`darts_gnn.serve.Recommender` (the evaluator's); a list
is cut short, with a note on stderr, when the user has fewer than K unseen items.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from ..serve import Recommender
from ..errors import UserError
from ..store.files import atomic_write


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("recommend", help="top-K recommendations from a trained run or an exported bundle",
                       description="Print (or write as CSV) the top-K unseen items for the given users, "
                                   "in the data set's own ids.")
    p.add_argument("run_dir", metavar="RUN_DIR|MODEL_DIR")
    p.add_argument("--users", nargs="+", required=True, metavar="USER",
                   help="user ids as in the data file, or 'all'")
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--output", metavar="CSV", help="write user,rank,item,score rows here")
    return p


def _recommender(path: str):
    if (Path(path) / "manifest.json").is_file():
        return Recommender.load(path)
    return Recommender.from_run(path)


def run(args: argparse.Namespace) -> int:
    if args.k <= 0:
        raise UserError(f"--k: expected a positive integer, got {args.k}")
    rec = _recommender(args.run_dir)
    users = rec.bundle.user_ids if args.users == ["all"] else args.users
    rec.user_index(users)  # every id checked before any output
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["user", "rank", "item", "score"])
    rows = 0
    for start in range(0, len(users), 1024):
        for r in rec.recommend(users[start:start + 1024], k=args.k):
            if r.capped:
                print(f"darts-gnn: user {r.user}: only {len(r.items)} unseen items, list capped at "
                      f"{len(r.items)} < k={args.k}", file=sys.stderr)
            for rank, (item, score) in enumerate(zip(r.items, r.scores), start=1):
                w.writerow([r.user, rank, item, f"{score:.5f}"])
                rows += 1
    if args.output:
        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as f:
                f.write(buf.getvalue())
        atomic_write(args.output, write)
        print(f"wrote {rows} rows to {args.output}")
    else:
        sys.stdout.write(buf.getvalue())
    return 0
