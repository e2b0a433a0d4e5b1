"""A train/test data set made from one LightGCN-format interaction file (for checks on data sets whose
``train.txt`` is not available here, e.g. the Yelp2018 ``test.txt`` in ``../shared/data``).

Keeps every ``--every``-th user line that has at least ``--min-items`` items, holds out
``--test-fraction`` of each kept user's items (at least one; a seeded shuffle per user), drops test
items no kept user has in train, re-indexes users and items contiguously (in order of first
appearance in train) and writes ``train.txt`` / ``test.txt`` to ``out`` through temporary names.
The same input and arguments always give the same output.

    python benchmarks/holdout_lightgcn.py ../shared/data/yelp2018/test.txt /tmp/yelp_t5 --every 5
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from subsample_lightgcn import read, write_dataset  # noqa: E402


def holdout(rows: dict, every: int, test_fraction: float, min_items: int, seed: int) -> tuple[dict, dict]:
    """``(train, test)`` rows as the module doc says."""
    train, test, imap = {}, {}, {}
    for u in sorted(rows):
        items = list(dict.fromkeys(rows[u]))
        if u % every or len(items) < min_items:
            continue
        random.Random(seed * 1_000_003 + u).shuffle(items)
        n_test = max(1, round(test_fraction * len(items)))
        k = len(train)
        train[k] = [imap.setdefault(i, len(imap)) for i in items[n_test:]]
        test[k] = items[:n_test]
    test = {k: [imap[i] for i in v if i in imap] for k, v in test.items()}
    return train, test


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("src", help="a LightGCN-format file: user_id item_id item_id ...")
    p.add_argument("out")
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--min-items", type=int, default=5)
    p.add_argument("--seed", type=int, default=2020)
    args = p.parse_args(argv)
    if args.every < 1 or not 0 < args.test_fraction < 1 or args.min_items < 2:
        print("--every: a positive integer; --test-fraction: in (0, 1); --min-items: at least 2", file=sys.stderr)
        return 2
    src, out = Path(args.src), Path(args.out)
    if not src.is_file():
        print(f"{src}: missing (expected a LightGCN-format interaction file)", file=sys.stderr)
        return 2
    train, test = holdout(read(src), args.every, args.test_fraction, args.min_items, args.seed)
    if not train:
        print(f"{src}: no user kept (--every {args.every}, --min-items {args.min_items})", file=sys.stderr)
        return 2
    print(write_dataset(out, train, test))
    return 0


if __name__ == "__main__":
    sys.exit(main())
