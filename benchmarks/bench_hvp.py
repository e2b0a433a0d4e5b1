"""Cost of an exact Hessian-vector product (w.r.t. α) through the fused op, against a first-order gradient.

A two-layer mixed model over a power-law graph (``bench_kernels.powerlaw``), all five aggregators,
softmax(α) weights, edge weights: times one gradient of the loss (forward + backward) and one
Hessian-vector product by double backward on a gradient graph built once (the eigenvalue guard's unit
of work in its power iteration; the finite-difference products it replaced cost two gradients each).
Medians of ``--repeats`` runs::

    python benchmarks/bench_hvp.py --graph powerlaw-M --d 64 --threads 1
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench_kernels import SYNTHETIC, powerlaw
from darts_gnn.ops import backend, mixed_aggregate

OPS = ("sum", "mean", "gcn", "max", "min")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graph", default="powerlaw-M", choices=sorted(SYNTHETIC))
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    g = powerlaw(args.graph, *SYNTHETIC[args.graph])
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(g.n, args.d, generator=gen)
    ew = torch.rand(g.e, generator=gen) + 0.5
    target = torch.randn(g.n, args.d, generator=gen)
    alpha = torch.zeros(2, len(OPS), requires_grad=True)
    v = torch.randn(2, len(OPS), generator=gen)

    def loss():
        h = x
        for layer in range(2):
            h = torch.tanh(mixed_aggregate(g.rowptr, g.col, h, torch.softmax(alpha[layer], 0), OPS, ew))
        return ((h - target) ** 2).mean()

    def grad():
        torch.autograd.grad(loss(), alpha)

    (ga,) = torch.autograd.grad(loss(), alpha, create_graph=True)  # built once, as dominant_eigenvalue does

    def hvp():
        torch.autograd.grad((ga * v).sum(), alpha, retain_graph=True)

    times = {}
    for name, f in (("gradient", grad), ("hvp", hvp)):
        f()
        runs = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            f()
            runs.append((time.perf_counter() - t) * 1e3)
        times[name] = statistics.median(runs)
    print(f"| {args.graph} | {g.n:,} | {g.e:,} | {args.d} | {backend()} | {times['gradient']:.1f} | {times['hvp']:.1f} | "
          f"{times['hvp'] / times['gradient']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
