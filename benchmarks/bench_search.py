"""Acceptance benchmark of the search: searched architecture (retrained) vs LightGCN (retrained).

For each data set and seed: train LightGCN with the config's ``train`` section (early stop on
validation, test at the best epoch), and run ``search -> genotype -> retrain -> test`` with the same
seed. Reports test Recall@20 / NDCG@20 as mean ± std over seeds, the search wall time (supernet
training only) against one LightGCN training's wall time, and the genotypes found.

    python benchmarks/bench_search.py                       # full budgets of configs/search_*.yaml
    python benchmarks/bench_search.py --quick               # epoch caps, for a shared CPU box
    python benchmarks/bench_search.py --datasets ml100k --seeds 0 --set search.epochs=5

Writes ``<out>/bench_search.json`` and ``<out>/bench_search.md`` (default out:
``benchmarks/results``). Data sets that are not on disk are skipped with a note.
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

from darts_gnn.config import config_to_dict, load_config  # noqa: E402

DATASETS = {
    "ml100k": ROOT / "configs" / "search_ml100k.yaml",
    "lastfm": ROOT / "configs" / "search_lastfm.yaml",
}

# --quick: what fits a shared 2-core box (both arms capped alike for the retrains).
QUICK = ["train.epochs=60", "train.eval_every=5", "train.patience=4", "search.epochs=8",
         "search.warmup_epochs=2", "search.eval_every=0", "search.log_every=0"]


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    m = statistics.fmean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:.4f} ± {s:.4f}"


def run_lightgcn(cfg, dataset, graph):
    import torch

    from darts_gnn.tasks.metrics import Evaluator
    from darts_gnn.nn.models import build_model
    from darts_gnn.engine.seed import seed_everything
    from darts_gnn.engine.train import Trainer
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, dataset, graph)
    ev = Evaluator(dataset, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    t0 = time.perf_counter()
    res = Trainer(model, dataset, cfg.train, evaluator=ev).fit()
    seconds = time.perf_counter() - t0
    test = ev.evaluate(model, "test")
    del torch
    return {"recall@20": test["recall@20"], "ndcg@20": test["ndcg@20"], "train_seconds": seconds,
            "epochs": res.epochs_run, "best_epoch": res.best_epoch, "seconds_per_epoch": res.seconds_per_epoch}


def run_darts(cfg, dataset, graph):
    """One search (argmax derivation, as DARTS), its retrain, and the greedy derivation of the same
    supernet retrained too (skipped when it equals the argmax genotype)."""
    from darts_gnn.tasks.metrics import Evaluator
    from darts_gnn.search.derive import greedy_genotype
    from darts_gnn.pipeline import retrain, run_search
    cfg.search.derive = "argmax"
    rep = run_search(cfg, None, dataset=dataset, graph=graph)
    out = {"argmax": {"recall@20": rep.test["recall@20"], "ndcg@20": rep.test["ndcg@20"],
                      "retrain_seconds": rep.retrain_seconds, "retrain_epochs": rep.retrain.epochs_run,
                      "genotype": rep.genotype.summary()},
           "search_seconds": rep.search.seconds, "search_epochs": rep.search.epochs_run}
    ev = Evaluator(dataset, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    t0 = time.perf_counter()
    g, _ = greedy_genotype(rep.supernet, ev)
    out["derive_seconds"] = time.perf_counter() - t0
    if g == rep.genotype:
        out["greedy"] = dict(out["argmax"])
    else:
        _, tr, test, seconds = retrain(g, dataset, graph, cfg, ev)
        out["greedy"] = {"recall@20": test["recall@20"], "ndcg@20": test["ndcg@20"], "retrain_seconds": seconds,
                         "retrain_epochs": tr.epochs_run, "genotype": g.summary()}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--quick", action="store_true", help="epoch caps for a small shared machine")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)

    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    from darts_gnn.data import Graph, load_dataset

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = (QUICK if args.quick else []) + list(args.set)
    if args.threads > 0:
        overrides.append(f"train.num_threads={args.threads}")
    report = {"command": " ".join(["python", "benchmarks/bench_search.py", *(argv if argv is not None else sys.argv[1:])]),
              "overrides": overrides, "threads": torch.get_num_threads(), "datasets": {}}
    for name in args.datasets:
        base = load_config(DATASETS[name], overrides)
        path = Path(base.data.path) if base.data.path else None
        if path is not None and not path.exists():
            print(f"[{name}] skipped: {path} not found", flush=True)
            report["datasets"][name] = {"skipped": f"{path} not found"}
            continue
        dataset = load_dataset(base.data)
        graph = Graph.from_dataset(dataset, "train")
        rows = {"lightgcn": [], "darts": []}
        for seed in args.seeds:
            cfg = load_config(DATASETS[name], overrides + [f"train.seed={seed}", f"search.seed={seed}",
                                                           "train.progress=false"])
            lg = run_lightgcn(cfg, dataset, graph)
            print(f"[{name} seed {seed}] lightgcn  R@20 {lg['recall@20']:.4f} N@20 {lg['ndcg@20']:.4f} "
                  f"{lg['train_seconds']:.0f} s ({lg['epochs']} epochs)", flush=True)
            rows["lightgcn"].append(lg)
            da = run_darts(cfg, dataset, graph)
            for how in ("argmax", "greedy"):
                r = da[how]
                print(f"[{name} seed {seed}] {how:7s}   R@20 {r['recall@20']:.4f} N@20 {r['ndcg@20']:.4f} "
                      f"search {da['search_seconds']:.0f} s, retrain {r['retrain_seconds']:.0f} s: {r['genotype']}",
                      flush=True)
            rows["darts"].append(da)
            (out / "bench_search.json").write_text(json.dumps(report | {"partial": {name: rows}}, indent=2))
        lg_time = statistics.fmean(r["train_seconds"] for r in rows["lightgcn"])
        summary = {
            "stats": dataset.stats(),
            "config": config_to_dict(load_config(DATASETS[name], overrides)),
            "lightgcn": {m: _ms([r[m] for r in rows["lightgcn"]]) for m in ("recall@20", "ndcg@20")},
            **{f"darts_{how}": {m: _ms([r[how][m] for r in rows["darts"]]) for m in ("recall@20", "ndcg@20")}
               for how in ("argmax", "greedy")},
            "lightgcn_train_seconds": lg_time,
            "search_seconds": statistics.fmean(r["search_seconds"] for r in rows["darts"]),
            "runs": rows,
            "seeds": list(args.seeds),
        }
        summary["search_over_lightgcn_time"] = summary["search_seconds"] / lg_time
        summary["search_with_greedy_seconds"] = statistics.fmean(r["search_seconds"] + r["derive_seconds"]
                                                                 for r in rows["darts"])
        for how in ("argmax", "greedy"):
            for m in ("recall@20", "ndcg@20"):
                summary[f"{how}_ge_lightgcn_{m}"] = (statistics.fmean(r[how][m] for r in rows["darts"])
                                                     >= statistics.fmean(r[m] for r in rows["lightgcn"]))
        report["datasets"][name] = summary
        (out / "bench_search.json").write_text(json.dumps(report, indent=2))

    lines = [f"Command: `{report['command']}` (torch threads: {report['threads']})", "",
             "| data set | model | Recall@20 | NDCG@20 | wall time per run (s) |", "|---|---|---|---|---|"]
    for name, s in report["datasets"].items():
        if "skipped" in s:
            lines.append(f"| {name} | skipped: {s['skipped']} | | | |")
            continue
        lines.append(f"| {name} | LightGCN (train) | {s['lightgcn']['recall@20']} | {s['lightgcn']['ndcg@20']} | "
                     f"{s['lightgcn_train_seconds']:.0f} |")
        for how in ("argmax", "greedy"):
            rt = statistics.fmean(r[how]["retrain_seconds"] for r in s["runs"]["darts"])
            d = s[f"darts_{how}"]
            lines.append(f"| {name} | searched, {how} (retrained) | {d['recall@20']} | {d['ndcg@20']} | "
                         f"search {s['search_seconds']:.0f} + retrain {rt:.0f} |")
    lines += ["", "| data set | search / LightGCN training time | argmax ≥ LightGCN (R, N) | greedy ≥ LightGCN (R, N) |",
              "|---|---|---|---|"]
    for name, s in report["datasets"].items():
        if "skipped" in s:
            continue
        lines.append(f"| {name} | {s['search_over_lightgcn_time']:.2f}× (with greedy derivation "
                     f"{s['search_with_greedy_seconds'] / s['lightgcn_train_seconds']:.2f}×) | "
                     f"{s['argmax_ge_lightgcn_recall@20']}, {s['argmax_ge_lightgcn_ndcg@20']} | "
                     f"{s['greedy_ge_lightgcn_recall@20']}, {s['greedy_ge_lightgcn_ndcg@20']} |")
    lines += ["", "Genotypes (seed: argmax / greedy):", ""]
    for name, s in report["datasets"].items():
        if "skipped" in s:
            continue
        for seed, r in zip(s["seeds"], s["runs"]["darts"]):
            lines.append(f"- {name} seed {seed}: `{r['argmax']['genotype']}` / `{r['greedy']['genotype']}`")
    md = "\n".join(lines) + "\n"
    (out / "bench_search.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
