"""A documented user subsample of a LightGCN-format data set (for checks that must fit a small machine).

Keeps every ``--every``-th user (user ids 0, k, 2k, ...), drops items no kept user has in train,
re-indexes users and items contiguously (in order) and writes ``train.txt`` / ``test.txt`` in the
same format to ``out`` (through temporary names). The same input always gives the same output.

    python benchmarks/subsample_lightgcn.py ../shared/data/gowalla /tmp/gowalla_u10 --every 10
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def read(path: Path) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            ids = [int(x) for x in parts]
        except ValueError:
            raise SystemExit(f"{path}:{n}: expected integer ids separated by spaces")
        out[ids[0]] = ids[1:]
    return out


def subsample(train: dict, test: dict, every: int) -> tuple[dict, dict]:
    users = sorted(u for u in train if u % every == 0 and train[u])
    items = sorted({i for u in users for i in train[u]})
    imap = {i: k for k, i in enumerate(items)}
    new_train = {k: [imap[i] for i in train[u]] for k, u in enumerate(users)}
    new_test = {k: [imap[i] for i in test.get(u, []) if i in imap] for k, u in enumerate(users)}
    return new_train, new_test


def write(path: Path, rows: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(" ".join(map(str, [u, *items])) + "\n" for u, items in rows.items()))
    os.replace(tmp, path)


def write_dataset(out: Path, train: dict, test: dict) -> str:
    """Write ``train.txt`` / ``test.txt`` to ``out`` (created); returns a one-line summary."""
    out.mkdir(parents=True, exist_ok=True)
    write(out / "train.txt", train)
    write(out / "test.txt", test)
    n_items = 1 + max(i for rows in train.values() for i in rows)
    return (f"{len(train)} users, {n_items} items, {sum(map(len, train.values()))} train and "
            f"{sum(map(len, test.values()))} test interactions -> {out}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--every", type=int, default=10)
    args = p.parse_args(argv)
    if args.every < 1:
        print("--every: expected a positive integer", file=sys.stderr)
        return 2
    src, out = Path(args.src), Path(args.out)
    for name in ("train.txt", "test.txt"):
        if not (src / name).is_file():
            print(f"{src / name}: missing (expected a LightGCN-format data set)", file=sys.stderr)
            return 2
    train, test = subsample(read(src / "train.txt"), read(src / "test.txt"), args.every)
    print(write_dataset(out, train, test))
    return 0


if __name__ == "__main__":
    sys.exit(main())
