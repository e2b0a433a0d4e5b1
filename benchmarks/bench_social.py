"""Issue 12 benchmark, friend recommendation on LastFM: searched vs LightGCN (joint graph) vs
Adamic-Adar vs common neighbours, Recall@20 / NDCG@20 on held-out friendships.

Per seed ``i`` (paired: the friendship split ``task.seed``, ``train.seed`` and ``search.seed`` all
move with ``i``), in one process and side by side:

1. common neighbours and Adamic-Adar on the training friendships (no training);
2. ``run_search`` with ``configs/lastfm_social.yaml`` and ``compare_baseline``: LightGCN on the joint
   user-item-user graph with the config's ``train`` protocol (its wall time is the budget
   reference), then the DARTS search + validated selection + final retrain, chosen on validation
   friendships only, then tested.

    python benchmarks/bench_social.py --seeds 0 1 2 --threads 1

Writes ``<out>/bench_social.json`` and ``<out>/bench_social.md`` after every seed.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from seeded_report import run_seeded  # noqa: E402
from darts_gnn.config import load_config  # noqa: E402
from darts_gnn.data import Graph, load_dataset  # noqa: E402
from darts_gnn.pipeline import run_search  # noqa: E402
from darts_gnn.tasks import build_task  # noqa: E402
from darts_gnn.tasks.heuristics import adamic_adar, common_neighbours  # noqa: E402

CONFIG = ROOT / "configs" / "lastfm_social.yaml"
METRICS = ("recall@20", "ndcg@20")
ROWS = (("common_neighbours", "common neighbours (train friendships)"),
        ("adamic_adar", "Adamic-Adar (train friendships)"),
        ("lightgcn", "LightGCN, joint graph (full protocol)"),
        ("searched", "searched + selection (valid only)"))


def _ms(values) -> str:
    if not values:
        return "-"
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {s:.4f}"


def one_seed(seed: int, overrides: list[str]) -> dict:
    cfg = load_config(CONFIG, overrides + [f"task.seed={2020 + seed}", f"train.seed={2020 + seed}",
                                           f"search.seed={seed}", "train.progress=false"])
    task = build_task(cfg.task)
    dataset = task.prepare(load_dataset(cfg.data))
    graph = Graph.from_dataset(dataset, "train")
    ev = task.evaluator(dataset, cfg.train)
    row: dict = {"seed": seed, "friendships": dataset.friends.stats()}
    for h in (common_neighbours(dataset.friends.train, dataset.n_users),
              adamic_adar(dataset.friends.train, dataset.n_users)):
        t0 = time.perf_counter()
        test = ev.evaluate(h, "test")
        row[h.name] = {**{m: test[m] for m in METRICS}, "seconds": time.perf_counter() - t0}
    rep = run_search(cfg, None, compare_baseline=True, progress=False, dataset=dataset, graph=graph)
    d = rep.diagnostics
    row["lightgcn"] = {**{m: rep.baseline["test"][m] for m in METRICS},
                       "seconds": rep.baseline["train_seconds"], "epochs": rep.baseline["epochs"]}
    row["searched"] = {**{m: rep.test[m] for m in METRICS}, "genotype": rep.genotype.summary(),
                       "search_seconds": rep.search.seconds, "select_seconds": d.get("selection_seconds"),
                       "retrain_seconds": rep.retrain_seconds, "seconds": d.get("total_seconds"),
                       "budget_ratio": d.get("budget_ratio"), "warnings": d.get("warnings")}
    print(f"[seed {seed}] " + " | ".join(f"{k} R {row[k]['recall@20']:.4f} N {row[k]['ndcg@20']:.4f}"
                                         for k, _ in ROWS) + f" | {rep.genotype.summary()}", flush=True)
    return row


def table(report: dict) -> str:
    rows = report["rows"]
    lines = [f"Command: `{report['command']}` (torch threads: {report['threads']})", "",
             "| model | Recall@20 | NDCG@20 | seeds | wall time per run (s) |", "|---|---|---|---|---|"]
    for key, label in ROWS:
        r = [x[key] for x in rows]
        lines.append(f"| {label} | {_ms([x['recall@20'] for x in r])} | {_ms([x['ndcg@20'] for x in r])} | "
                     f"{len(r)} | {statistics.fmean(x['seconds'] or 0.0 for x in r):.1f} |")
    lines += ["", "| seed | test friendships | search cost / one LightGCN training | searched genotype |",
              "|---|---|---|---|"]
    for x in rows:
        ratio = (x["searched"]["seconds"] or 0.0) / x["lightgcn"]["seconds"]
        genotype = x["searched"]["genotype"].replace("|", "\\|")
        lines.append(f"| {x['seed']} | {x['friendships']['friends_test']} | {ratio:.2f}× | "
                     f"`{genotype}` |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    return run_seeded("social", __doc__, one_seed, table, argv)


if __name__ == "__main__":
    sys.exit(main())
