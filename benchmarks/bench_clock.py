"""The budget clock under load: wall time and CPU time of one LightGCN fit, alone and with copies of
itself competing for the cores (``search.budget_clock``; :mod:`darts_gnn.engine.clock`).

    python benchmarks/bench_clock.py --config configs/search_ml100k.yaml --epochs 10 --copies 3 --repeats 3

Prints one table: the median seconds per fit over ``--repeats`` fits, alone and with ``--copies``
processes running at once (1 torch thread each), and each clock's slowdown under load.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from darts_gnn.config import load_config  # noqa: E402
from darts_gnn.pipeline import prepare  # noqa: E402
from darts_gnn.search.select import train_candidate  # noqa: E402
from darts_gnn.space.genotype import Genotype  # noqa: E402


def _fits(config: str, epochs: int, repeats: int, sets: list, out) -> None:
    """``repeats`` LightGCN fits of ``epochs`` epochs; puts ``[(wall, cpu), ...]`` on ``out``."""
    torch.set_num_threads(1)
    cfg = load_config(config, sets + [f"train.epochs={epochs}", "train.num_threads=1", "train.progress=false"])
    ds, graph, ev, _ = prepare(cfg)
    g = Genotype.lightgcn(int(cfg.model.n_layers), int(cfg.model.dim))
    times = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        train_candidate(g, ds, graph, cfg.train, ev, patience=10 ** 6)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    out.put(times)


def _run(copies: int, args) -> list:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_fits, args=(args.config, args.epochs, args.repeats, args.set, q)) for _ in range(copies)]
    for p in procs:
        p.start()
    times = [t for _ in procs for t in q.get()]
    for p in procs:
        p.join()
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(ROOT / "configs" / "search_ml100k.yaml"))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--copies", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    alone, loaded = _run(1, args), _run(args.copies, args)
    med = [[statistics.median(t[i] for t in runs) for i in (0, 1)] for runs in (alone, loaded)]
    print(f"LightGCN, {args.epochs} epochs, {Path(args.config).name}; median of {args.repeats} fits per process\n")
    print("| clock | alone (s) | with {} copies (s) | slowdown |".format(args.copies))
    print("|---|---|---|---|")
    for i, name in enumerate(("wall", "cpu")):
        print(f"| {name} | {med[0][i]:.2f} | {med[1][i]:.2f} | {med[1][i] / med[0][i]:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
