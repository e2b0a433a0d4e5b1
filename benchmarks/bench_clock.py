"""The budget clock under load: wall time and CPU time of one LightGCN fit, alone and with copies of
itself competing for the cores (``search.budget_clock``; :mod:`darts_gnn.engine.clock`).

    python benchmarks/bench_clock.py --config configs/search_ml100k.yaml --epochs 10 --copies 3 --repeats 3
    python benchmarks/bench_clock.py --copies 0 --threads 2 --recipes bpr softmax

Prints one table: per training recipe, the median seconds per fit over ``--repeats`` fits, alone and
with ``--copies`` processes running at once (``--threads`` torch threads each; ``--copies 0``: alone
only), each clock's slowdown under load and CPU time over wall time. With several threads CPU time
counts every thread, and the baseline's recipe (``bpr``) and the candidates' (``softmax``) keep them
unequally busy (different CPU / wall): that is why ``search.budget_clock: cpu`` counts wall time
whenever torch trains with more than one thread.
"""
from __future__ import annotations

import argparse
import math
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
from darts_gnn.space.recipe import Recipe  # noqa: E402


RECIPES = {"bpr": (None, False), "softmax": (Recipe(loss="softmax", negatives=1024, temperature=0.2), True)}


def _fits(config: str, epochs: int, repeats: int, sets: list, threads: int, recipe: str, out) -> None:
    """``repeats`` LightGCN fits of ``epochs`` epochs under ``recipe``; puts ``[(wall, cpu), ...]`` on ``out``."""
    torch.set_num_threads(threads)
    cfg = load_config(config, sets + [f"train.epochs={epochs}", f"train.num_threads={threads}", "train.progress=false"])
    ds, graph, ev, _ = prepare(cfg)
    r, norm = RECIPES[recipe]
    g = Genotype.lightgcn(int(cfg.model.n_layers), int(cfg.model.dim)).with_(recipe=r, norm=norm)
    times = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        train_candidate(g, ds, graph, cfg.train, ev, patience=10 ** 6)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    out.put(times)


def _run(copies: int, args, recipe: str) -> list:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_fits, args=(args.config, args.epochs, args.repeats, args.set, args.threads, recipe, q))
             for _ in range(copies)]
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
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=["bpr"])
    args = p.parse_args(argv)
    print(f"LightGCN, {args.epochs} epochs, {Path(args.config).name}, {args.threads} torch thread(s); "
          f"median of {args.repeats} fits per process\n")
    print(f"| recipe | clock | alone (s) | with {args.copies} copies (s) | slowdown | CPU / wall alone |")
    print("|---|---|---|---|---|---|")
    for recipe in args.recipes:
        alone = _run(1, args, recipe)
        loaded = _run(args.copies, args, recipe) if args.copies > 0 else []
        med = [[statistics.median(t[i] for t in runs) if runs else math.nan for i in (0, 1)] for runs in (alone, loaded)]
        for i, name in enumerate(("wall", "cpu")):
            print(f"| {recipe} | {name} | {med[0][i]:.2f} | {med[1][i]:.2f} | {med[1][i] / med[0][i]:.2f}x | "
                  f"{med[0][1] / med[0][0]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
