"""``darts-gnn recommend``: top-K items for users from a trained run (seen items excluded)."""
from __future__ import annotations

import argparse
import csv
import io
import sys

import torch

from ..errors import UserError
from .common import load_run


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("recommend", help="top-K recommendations from a trained run",
                       description="Print (or write as CSV) the top-K unseen items for the given users, "
                                   "in the data set's own ids.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--users", nargs="+", required=True, metavar="USER",
                   help="user ids as in the data file, or 'all'")
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--output", metavar="CSV", help="write user,rank,item,score rows here")
    return p


def recommend(model, ds, users: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` ``(items [B, k], scores [B, k])`` for ``users`` ``[B]``, train+valid+test items masked."""
    rowptr, items = ds.user_items("train", "valid", "test")
    scores = model.score(users).clone()
    for j, u in enumerate(users.tolist()):
        scores[j, items[rowptr[u]:rowptr[u + 1]]] = float("-inf")
    k = min(k, ds.n_items)
    top = torch.topk(scores, k, dim=1)
    return top.indices, top.values


def run(args: argparse.Namespace) -> int:
    from ..rundir import atomic_write
    if args.k <= 0:
        raise UserError(f"--k: expected a positive integer, got {args.k}")
    _, ds, _, model = load_run(args.run_dir)
    uid = ds.user_ids
    if args.users == ["all"]:
        users = list(range(ds.n_users))
    else:
        lookup = {s: i for i, s in enumerate(uid)} if uid is not None else None
        users = []
        for s in args.users:
            if lookup is not None:
                if s not in lookup:
                    raise UserError(f"--users: unknown user id {s!r}")
                users.append(lookup[s])
            else:
                try:
                    u = int(s)
                except ValueError:
                    raise UserError(f"--users: expected integer user ids or 'all', got {s!r}") from None
                if not 0 <= u < ds.n_users:
                    raise UserError(f"--users: user {u} out of range [0, {ds.n_users})")
                users.append(u)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["user", "rank", "item", "score"])
    with torch.no_grad():
        for start in range(0, len(users), 1024):
            batch = torch.tensor(users[start:start + 1024], dtype=torch.long)
            top, val = recommend(model, ds, batch, args.k)
            for j, u in enumerate(batch.tolist()):
                for r in range(top.shape[1]):
                    i = int(top[j, r])
                    w.writerow([uid[u] if uid else u, r + 1, ds.item_ids[i] if ds.item_ids else i,
                                f"{float(val[j, r]):.5f}"])
    if args.output:
        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as f:
                f.write(buf.getvalue())
        atomic_write(args.output, write)
        print(f"wrote {len(users) * min(args.k, ds.n_items)} rows to {args.output}")
    else:
        sys.stdout.write(buf.getvalue())
    return 0
