"""A/B timing of the fused mixed aggregation of one checkout: Gowalla, d=64, K=1 and 5, fwd and fwd+bwd.

Run it alternately for two checkouts (old, new, old, new, ...) and compare the medians pairwise; the
machine's load drifts, so only interleaved runs compare::

    git archive <old-commit> | tar -x -C /tmp/old
    for i in 1 2 3; do
      PYTHONPATH=/tmp/old python benchmarks/ab_fused.py --threads 1
      PYTHONPATH=$PWD python benchmarks/ab_fused.py --threads 1
    done

Prints one line per run: the checkout of ``darts_gnn`` and median/min ms of each measurement (15 calls).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

import darts_gnn
from darts_gnn.ops import backend, mixed_aggregate

OPS_BY_K = {1: ("gcn",), 5: ("sum", "mean", "gcn", "max", "min")}
GOWALLA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gowalla" / "train.txt"


def gowalla(path: Path) -> SimpleNamespace:
    """Gowalla's symmetric user-item CSR, built as ``bench_kernels.py`` builds it (kept here so that
    an older checkout, without the current benchmark module, runs this file too)."""
    users, items = [], []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            its = np.asarray(parts[1:], dtype=np.int64)
            users.append(np.full(len(its), int(parts[0]), dtype=np.int64))
            items.append(its)
    u, i = np.concatenate(users), np.concatenate(items)
    n_users = int(u.max()) + 1
    n = n_users + int(i.max()) + 1
    a, b = np.concatenate([u, i + n_users]), np.concatenate([i + n_users, u])
    key = np.unique(b * n + a)
    rowptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(key // n, minlength=n), out=rowptr[1:])
    return SimpleNamespace(n=n, rowptr=torch.from_numpy(rowptr), col=torch.from_numpy(key % n))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--gowalla", type=Path, default=GOWALLA)
    p.add_argument("--calls", type=int, default=15)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if not args.gowalla.is_file():
        p.error(f"{args.gowalla} not found")
    g = gowalla(args.gowalla)
    if backend() != "cpp-cpu":
        p.error(f"the fused CPU kernel is not in use (backend {backend()!r})")
    gen = torch.Generator().manual_seed(0)
    x0, grad = torch.randn(g.n, 64, generator=gen), torch.randn(g.n, 64, generator=gen)
    res = {}
    for k, ops in OPS_BY_K.items():
        alpha = torch.zeros(k, requires_grad=True)
        x = x0.clone().requires_grad_(True)

        def fwd():
            with torch.no_grad():
                mixed_aggregate(g.rowptr, g.col, x0, torch.softmax(alpha, 0), ops)

        def fb():
            mixed_aggregate(g.rowptr, g.col, x, torch.softmax(alpha, 0), ops).backward(grad)

        for name, f in (("fwd", fwd), ("fb", fb)):
            f()
            times = []
            for _ in range(args.calls):
                t = time.perf_counter()
                f()
                times.append((time.perf_counter() - t) * 1e3)
            res[f"K{k}_{name}"] = f"{statistics.median(times):.1f}/{min(times):.1f}"
    print(Path(darts_gnn.__file__).parents[1], res, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
