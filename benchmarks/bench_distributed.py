"""Data parallel on this machine: steps per second for 1..N gloo processes, and memory per rank.

Throughput (``--nproc 1 2``): each setting starts its ranks with ``torch.multiprocessing.spawn``
(1 thread each), trains a LightGCN (``train``) and searches the supernet (``search``, DARTS first
order) for ``--steps`` global batches per epoch, and prints the median steps/s over the timed epochs
(the first epoch is a warm-up) and the peak resident memory of each rank.

Memory (``--memory``): one training step of the model on the data set, broken down into
parameters, gradients, Adam state, the graph (CSR, transpose, edge weights), the activations that
autograd keeps for the backward pass (bytes of the distinct saved tensors that are neither a
parameter nor the graph) and the all-reduce buffer a data-parallel rank adds. Every rank holds all
of it: data parallelism replicates, it does not shard.

Examples::

    python benchmarks/bench_distributed.py --nproc 1 2                       # synthetic quick-start data
    python benchmarks/bench_distributed.py --memory --data gowalla            # ../shared/data/gowalla
    python benchmarks/bench_distributed.py --memory --synthetic-edges 10000000
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import darts_gnn  # noqa: E402,F401
import torch  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from darts_gnn import distributed  # noqa: E402
from darts_gnn.config import load_config  # noqa: E402
from darts_gnn.data import BPRSampler, Graph, load_dataset  # noqa: E402
from darts_gnn.nn.models import build_model  # noqa: E402
from darts_gnn.search.darts import build_darts_searcher  # noqa: E402
from darts_gnn.engine.seed import seed_everything  # noqa: E402
from darts_gnn.engine.train import Trainer, batch_loss  # noqa: E402

MB = 2 ** 20


def config(args, extra=()):
    sets = ["train.progress=false", "train.num_threads=1", f"train.batch_size={args.batch}",
            f"search.batch_size={args.batch}", "search.warmup_epochs=0", f"search.max_steps_per_epoch={args.steps}",
            "search.eval_every=0", "model.name=lightgcn", *extra]
    if args.data == "gowalla":
        return load_config(ROOT / "configs" / "gowalla.yaml",
                           [f"data.path={ROOT.parent / 'shared' / 'data' / 'gowalla'}", *sets])
    if args.synthetic_edges:
        # the generator costs users x items: many interactions per user over few items keeps it short
        users = max(1000, args.synthetic_edges // 200)
        sets += [f"data.synthetic.n_users={users}", "data.synthetic.n_items=5000",
                 "data.synthetic.interactions_per_user=200", "data.valid_fraction=0.01", "data.test_fraction=0.01"]
    return load_config(ROOT / "configs" / "quickstart.yaml", sets)


def data(cfg):
    ds = load_dataset(cfg.data)
    return ds, Graph.from_dataset(ds, "train")


# ----------------------------------------------------------------------------- throughput
def _fixed_batches(ds, cfg, steps: int) -> list:
    return [b for _, b in zip(range(steps), BPRSampler(ds, cfg.train.batch_size, cfg.train.seed).epoch(0))]


def _time_epochs(run_epoch, epochs: int) -> list[float]:
    times = []
    for e in range(epochs + 1):
        t0 = time.perf_counter()
        run_epoch(e)
        times.append(time.perf_counter() - t0)
    return times[1:]  # the first epoch warms up


def worker(rank: int, world: int, init_file: str, args, out: str) -> None:
    torch.set_num_threads(1)
    if world > 1:
        distributed.init(rank, world, init_method=f"file://{init_file}", backend="gloo")
    try:
        cfg = config(args)
        ds, graph = data(cfg)
        result = {}
        if "train" in args.modes:
            seed_everything(cfg.train.seed)
            model = build_model(cfg.model, ds, graph)
            trainer = Trainer(model, ds, cfg.train, evaluator=None, sampler=_fixed_batches(ds, cfg, args.steps))
            trainer.has_valid = False
            result["train"] = _time_epochs(trainer.train_epoch, args.epochs)
        if "search" in args.modes:
            searcher = build_darts_searcher(cfg, ds, graph)
            searcher.progress = False
            result["search"] = _time_epochs(searcher.train_epoch, args.epochs)
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        torch.save(result, f"{out}{rank}.pt")
    finally:
        distributed.teardown()


def throughput(args) -> list[dict]:
    rows, per_rank = [], args.batch
    for n in args.nproc:
        args.batch = per_rank * n if args.weak else per_rank
        with tempfile.TemporaryDirectory() as tmp:
            mp.spawn(worker, args=(n, f"{tmp}/init", args, f"{tmp}/out"), nprocs=n)
            ranks = [torch.load(f"{tmp}/out{r}.pt", weights_only=True) for r in range(n)]
        for mode in args.modes:
            med = statistics.median(ranks[0][mode])
            rows.append({"mode": mode, "nproc": n, "batch": args.batch, "steps_per_s": args.steps / med,
                         "samples_per_s": args.steps * args.batch / med,
                         "rss_mb_per_rank": max(r["rss_mb"] for r in ranks)})
    print("| mode | processes | global batch | steps/s | samples/s | samples/s vs first | peak RSS per rank |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        base = next(r for r in rows if r["mode"] == row["mode"] and r["nproc"] == args.nproc[0])
        print(f"| {row['mode']} | {row['nproc']} | {row['batch']} | {row['steps_per_s']:.2f} | "
              f"{row['samples_per_s']:.0f} | {row['samples_per_s'] / base['samples_per_s']:.2f}x | "
              f"{row['rss_mb_per_rank']:.0f} MB |")
    return rows


# ----------------------------------------------------------------------------- memory per rank
def _dense(tensors) -> list[torch.Tensor]:
    out = []
    for t in tensors:
        if t.layout == torch.sparse_csr:
            out += [t.crow_indices(), t.col_indices(), t.values()]
        elif t.is_sparse:
            out += [t._indices(), t._values()]
        else:
            out.append(t)
    return out


def _bytes(tensors) -> int:
    seen, total = set(), 0
    for t in _dense(tensors):
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def _graph_tensors(graph) -> list[torch.Tensor]:
    graph.transpose()
    out = [v for v in vars(graph).values() if isinstance(v, torch.Tensor)]
    for v in vars(graph).values():
        if isinstance(v, tuple):
            out += [t for t in v if isinstance(t, torch.Tensor)]
    return out


def step_memory(model, graph, batch, l2: float) -> dict:
    params = list(model.parameters())
    fixed = {t.untyped_storage().data_ptr() for t in _dense(params + _graph_tensors(graph))}
    saved: list[torch.Tensor] = []

    def pack(t):
        if not any(d.untyped_storage().data_ptr() in fixed for d in _dense([t])):
            saved.append(t)
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = batch_loss(*model.embeddings(), batch, l2, model.ego_embeddings())
    loss.backward()
    p = _bytes(params)
    return {"parameters": p, "gradients": p, "adam_state": 2 * p, "graph": _bytes(_graph_tensors(graph)),
            "activations": _bytes(saved), "allreduce_buffer": p}


def memory(args) -> dict:
    torch.set_num_threads(args.threads)
    cfg = config(args)
    t0 = time.perf_counter()
    ds, graph = data(cfg)
    load_s = time.perf_counter() - t0
    seed_everything(cfg.train.seed)
    model = build_darts_searcher(cfg, ds, graph).model if args.supernet else build_model(cfg.model, ds, graph)
    batch = next(iter(BPRSampler(ds, cfg.train.batch_size, cfg.train.seed).epoch(0)))
    t0 = time.perf_counter()
    m = step_memory(model, graph, batch, cfg.train.l2)
    step_s = time.perf_counter() - t0
    m["total"] = sum(m.values())
    info = {"data": cfg.data.source if not args.data else args.data, "users": ds.n_users, "items": ds.n_items,
            "interactions": len(ds.train), "graph_entries": graph.num_edges, "dim": cfg.model.dim,
            "layers": cfg.model.n_layers, "batch": cfg.train.batch_size, "load_s": load_s, "step_s": step_s,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(f"{info['users']} users, {info['items']} items, {info['interactions']} training interactions "
          f"({info['graph_entries']} graph entries), {'supernet' if args.supernet else 'LightGCN'} dim {info['dim']}, {info['layers']} layers, batch "
          f"{info['batch']}; one step {step_s:.2f} s, peak RSS {info['rss_mb']:.0f} MB")
    print("| part | MB per rank |")
    print("|---|---|")
    for k, v in m.items():
        print(f"| {k} | {v / MB:.1f} |")
    return {**info, **{k: v / MB for k, v in m.items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nproc", type=int, nargs="+", default=[1, 2], help="process counts to time")
    p.add_argument("--modes", nargs="+", default=["train", "search"], choices=["train", "search"])
    p.add_argument("--steps", type=int, default=5, help="global batches per timed epoch")
    p.add_argument("--epochs", type=int, default=5, help="timed epochs (after one warm-up epoch)")
    p.add_argument("--batch", type=int, default=2048, help="global batch size")
    p.add_argument("--memory", action="store_true", help="the memory breakdown of one step instead")
    p.add_argument("--data", choices=["gowalla"], help="../shared/data/gowalla instead of the synthetic data")
    p.add_argument("--synthetic-edges", type=int, default=0, metavar="N",
                   help="a synthetic data set of about N interactions (200 per user, 5000 items)")
    p.add_argument("--supernet", action="store_true", help="--memory of the search's supernet, not LightGCN")
    p.add_argument("--weak", action="store_true", help="global batch = --batch x processes (same work per rank)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for --memory")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    out = memory(args) if args.memory else throughput(args)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
