"""Issue 9 acceptance benchmark: search + validated selection vs LightGCN vs random search.

Per data set and seed, side by side in one process:

1. LightGCN with the config's full ``train`` protocol (same Trainer, early stop on validation);
   its wall time is the budget reference.
2. ``run_search`` with the shipped config: fair supernet search, validated selection (pool from α,
   recipes), final retrain of the winner; chosen on validation only, then tested.
3. (``--random-seeds``) random search at equal budget: a pool of genotypes drawn uniformly from the
   same space (plus the same baseline point), the same selection stage and recipe grid, capped at
   the seconds that step 2 spent on search + selection, then the same final retrain.

    python benchmarks/bench_select.py --datasets ml100k --seeds 0 1 2 --threads 1

Writes ``<out>/bench_select.json`` and ``<out>/bench_select.md`` after every seed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from darts_gnn.config import load_config  # noqa: E402

DATASETS = {"ml100k": ROOT / "configs" / "search_ml100k.yaml", "lastfm": ROOT / "configs" / "search_lastfm.yaml"}
METRICS = ("recall@20", "ndcg@20")


def _ms(values):
    if not values:
        return "-"
    m = statistics.fmean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:.4f} ± {s:.4f}"


def random_pool(space, n: int, seed: int) -> list:
    """``n`` distinct genotypes drawn uniformly from ``space`` (per choice, then cut at the depth)."""
    import random

    from darts_gnn.space.genotype import Genotype, LayerGene
    rng = random.Random(seed)
    out: list = []
    for _ in range(20 * n):
        if len(out) >= n:
            break
        depth = rng.choice(space.depths)
        layers = tuple(LayerGene(rng.choice(space.aggregators), rng.choice(space.transforms),
                                 rng.choice(space.skips)) for _ in range(depth))
        g = Genotype(layers, rng.choice(space.combines), rng.choice(space.widths))
        if g not in out:
            out.append(g)
    return out


def random_pool_with_baseline(cfg, dataset, graph, seed: int):
    """``(pool, base)``: ``select_pool + 1`` uniform genotypes of the search's own space (its width
    rule) plus the config's baseline point when the space holds it; ``base`` is that point or ``None``."""
    from darts_gnn.pipeline import build_searcher
    from darts_gnn.search.pool import baseline_genotype
    space = build_searcher(cfg, dataset, graph, progress=False).model.space
    pool = random_pool(space, cfg.search.select_pool + 1, seed)
    base = baseline_genotype(cfg.model)
    if base is not None and space.contains(base) and base not in pool:
        pool.append(base)
    return pool, base


def run_random(cfg, dataset, graph, budget_seconds: float, seed: int) -> dict:
    from darts_gnn.tasks.metrics import Evaluator
    from darts_gnn.pipeline import retrain
    from darts_gnn.search.select import select_genotype
    ev = Evaluator(dataset, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    pool, _ = random_pool_with_baseline(cfg, dataset, graph, seed)
    t0 = time.perf_counter()
    sel = select_genotype(pool, dataset, graph, cfg, ev, pool_size=len(pool), budget_seconds=budget_seconds)
    seconds = time.perf_counter() - t0
    _, tr, test, rt = retrain(sel.winner, dataset, graph, cfg, ev)
    return {**{m: test[m] for m in METRICS}, "genotype": sel.winner.summary(), "select_seconds": seconds,
            "retrain_seconds": rt, "retrained": len(sel.candidates), "skipped": sel.skipped}


def one_seed(name: str, seed: int, overrides: list[str], dataset, graph, with_random: bool) -> dict:
    from darts_gnn.pipeline import run_search
    cfg = load_config(DATASETS[name], overrides + [f"train.seed={seed}", f"search.seed={seed}",
                                                   "train.progress=false"])
    rep = run_search(cfg, None, compare_baseline=True, progress=False, dataset=dataset, graph=graph)
    d = rep.diagnostics
    row = {"seed": seed, "lightgcn": {**{m: rep.baseline["test"][m] for m in METRICS},
                                      "seconds": rep.baseline["train_seconds"], "epochs": rep.baseline["epochs"]},
           "searched": {**{m: rep.test[m] for m in METRICS}, "genotype": rep.genotype.summary(),
                        "search_seconds": rep.search.seconds, "select_seconds": d.get("selection_seconds"),
                        "retrain_seconds": rep.retrain_seconds, "total_seconds": d.get("total_seconds"),
                        "budget_ratio": d.get("budget_ratio"), "proxy_spearman": d.get("proxy_spearman"),
                        "baseline_one_shot": d.get("baseline_one_shot"), "warnings": d.get("warnings"),
                        "candidates": d.get("selection", {}).get("candidates")}}
    print(f"[{name} seed {seed}] lightgcn R {row['lightgcn']['recall@20']:.4f} N {row['lightgcn']['ndcg@20']:.4f} "
          f"{row['lightgcn']['seconds']:.0f} s | searched R {rep.test['recall@20']:.4f} N {rep.test['ndcg@20']:.4f} "
          f"{d.get('total_seconds', 0):.0f} s ({d.get('budget_ratio') or 0:.2f}x): {rep.genotype.summary()}", flush=True)
    if with_random:
        spent = rep.search.seconds + (d.get("selection_seconds") or 0.0)
        row["random"] = run_random(cfg, dataset, graph, spent, seed)
        print(f"[{name} seed {seed}] random   R {row['random']['recall@20']:.4f} N {row['random']['ndcg@20']:.4f}: "
              f"{row['random']['genotype']}", flush=True)
    return row


def table(report: dict) -> str:
    lines = [f"Command: `{report['command']}` (torch threads: {report['threads']})", "",
             "| data set | model | Recall@20 | NDCG@20 | seeds | wall time per run (s) |", "|---|---|---|---|---|---|"]
    for name, rows in report["datasets"].items():
        lg = [r["lightgcn"] for r in rows]
        se = [r["searched"] for r in rows]
        rn = [r["random"] for r in rows if "random" in r]
        lines.append(f"| {name} | LightGCN (full protocol) | {_ms([r['recall@20'] for r in lg])} | "
                     f"{_ms([r['ndcg@20'] for r in lg])} | {len(lg)} | {statistics.fmean(r['seconds'] for r in lg):.0f} |")
        lines.append(f"| {name} | searched + selection (valid only) | {_ms([r['recall@20'] for r in se])} | "
                     f"{_ms([r['ndcg@20'] for r in se])} | {len(se)} | "
                     f"{statistics.fmean(r['total_seconds'] for r in se):.0f} (search + selection + final retrain) |")
        if rn:
            lines.append(f"| {name} | random + selection, equal budget | {_ms([r['recall@20'] for r in rn])} | "
                         f"{_ms([r['ndcg@20'] for r in rn])} | {len(rn)} | "
                         f"{statistics.fmean(r['select_seconds'] + r['retrain_seconds'] for r in rn):.0f} |")
    lines += ["", "| data set | seed | searched / LightGCN time | proxy Spearman | LightGCN one-shot | genotype |",
              "|---|---|---|---|---|---|"]
    for name, rows in report["datasets"].items():
        for r in rows:
            s = r["searched"]
            sp = "n/a" if s["proxy_spearman"] is None else f"{s['proxy_spearman']:+.2f}"
            bo = "n/a" if s["baseline_one_shot"] is None else f"{s['baseline_one_shot']:.4f}"
            lines.append(f"| {name} | {r['seed']} | {s['total_seconds'] / r['lightgcn']['seconds']:.2f}× | {sp} | "
                         f"{bo} | `{s['genotype']}` |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--random-seeds", nargs="*", type=int, default=[0],
                   help="seeds that also run random search at equal budget")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "select"))
    args = p.parse_args(argv)
    import torch

    from darts_gnn.data import Graph, load_dataset
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = list(args.set) + [f"train.num_threads={args.threads}"]
    report = {"command": " ".join(["python", "benchmarks/bench_select.py",
                                   *(argv if argv is not None else sys.argv[1:])]),
              "threads": args.threads, "datasets": {}}
    for name in args.datasets:
        base = load_config(DATASETS[name], overrides)
        dataset = load_dataset(base.data)
        graph = Graph.from_dataset(dataset, "train")
        report["datasets"][name] = []
        for seed in args.seeds:
            report["datasets"][name].append(one_seed(name, seed, overrides, dataset, graph,
                                                     seed in args.random_seeds))
            (out / "bench_select.json").write_text(json.dumps(report, indent=2))
            (out / "bench_select.md").write_text(table(report))
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
