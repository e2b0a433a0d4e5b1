"""Baselines under the LightGCN protocol: MF vs LightGCN on ml-100k and LastFM (3 seeds), and Gowalla.

Prints a table and writes JSON. Examples::

    python benchmarks/bench_train.py                      # ml-100k + LastFM, MF and LightGCN, 3 seeds
    python benchmarks/bench_train.py --gowalla            # Gowalla, paper hyperparameters, 5 epochs
    python benchmarks/bench_train.py --epoch-time         # LightGCN epoch time on ml-100k only
    python benchmarks/bench_train.py --quick              # 1 seed, few epochs (smoke)

Data sets are read from ../shared/data (relative to the repository root); missing ones are skipped.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import darts_gnn  # noqa: E402,F401  (first: sets OMP_WAIT_POLICY before torch starts its thread pool)
import torch  # noqa: E402

from darts_gnn.config import load_config  # noqa: E402
from darts_gnn.data import Graph, load_dataset  # noqa: E402
from darts_gnn.tasks.metrics import Evaluator  # noqa: E402
from darts_gnn.nn.models import build_model  # noqa: E402
from darts_gnn.engine.seed import seed_everything  # noqa: E402
from darts_gnn.engine.train import Trainer  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SETS = {"ml-100k": ("configs/ml100k.yaml", DATA / "ml-100k" / "split-2020"),
        "lastfm": ("configs/lastfm.yaml", DATA / "lastfm")}


def mean_std(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def one_run(config: str, path: Path, model: str, seed: int, overrides: list[str]) -> dict:
    cfg = load_config(ROOT / config, [f"data.path={path}", f"model.name={model}", f"train.seed={seed}",
                                      "train.progress=false", *overrides])
    seed_everything(seed)
    ds = load_dataset(cfg.data)
    graph = Graph.from_dataset(ds, "train")
    m = build_model(cfg.model, ds, graph)
    ev = Evaluator(ds, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    t0 = time.perf_counter()
    res = Trainer(m, ds, cfg.train, evaluator=ev).fit()
    wall = time.perf_counter() - t0
    test = ev.evaluate(m, "test")
    return {"recall@20": test["recall@20"], "ndcg@20": test["ndcg@20"], "best_epoch": res.best_epoch,
            "epochs": res.epochs_run, "s_per_epoch": res.seconds_per_epoch, "wall_s": wall}


def baselines(seeds: list[int], overrides: list[str]) -> list[dict]:
    rows = []
    for name, (config, path) in SETS.items():
        if not (path / "train.txt").is_file():
            print(f"skip {name}: {path} not found")
            continue
        for model in ("mf", "lightgcn"):
            runs = []
            for s in seeds:
                r = one_run(config, path, model, s, overrides)
                print(f"  {name} {model} seed {s}: R@20 {r['recall@20']:.4f} N@20 {r['ndcg@20']:.4f} "
                      f"best epoch {r['best_epoch']} ({r['s_per_epoch']:.2f} s/epoch)", flush=True)
                runs.append(r)
            row = {"data": name, "model": model, "seeds": seeds, "runs": runs}
            for k in ("recall@20", "ndcg@20", "best_epoch", "s_per_epoch"):
                row[k] = mean_std([r[k] for r in runs])
            rows.append(row)
    print()
    print("| data | model | Recall@20 | NDCG@20 | best epoch | s/epoch |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['data']} | {r['model']} | {r['recall@20'][0]:.4f} ± {r['recall@20'][1]:.4f} | "
              f"{r['ndcg@20'][0]:.4f} ± {r['ndcg@20'][1]:.4f} | {r['best_epoch'][0]:.0f} ± {r['best_epoch'][1]:.0f} | "
              f"{statistics.median([x['s_per_epoch'] for x in r['runs']]):.2f} |")
    return rows


def epoch_time(repeats: int) -> dict:
    """Median seconds of one LightGCN epoch (batch 2048, dim 64, 3 layers) on ml-100k, no evaluation."""
    config, path = SETS["ml-100k"]
    cfg = load_config(ROOT / config, [f"data.path={path}", "train.progress=false", f"train.epochs={repeats}",
                                      f"train.eval_every={repeats + 1}"])
    seed_everything(0)
    ds = load_dataset(cfg.data)
    graph = Graph.from_dataset(ds, "train")
    m = build_model(cfg.model, ds, graph)
    res = Trainer(m, ds, cfg.train, evaluator=None).fit()
    times = [h["seconds"] for h in res.history if "seconds" in h] or [res.seconds_per_epoch]
    out = {"median_s": statistics.median(times), "all_s": times, "threads": torch.get_num_threads()}
    print(f"LightGCN epoch on ml-100k: median {out['median_s']:.3f} s over {len(times)} epochs "
          f"({torch.get_num_threads()} threads)")
    return out


def gowalla(epochs: int) -> dict:
    path = DATA / "gowalla"
    if not (path / "train.txt").is_file():
        print(f"skip gowalla: {path} not found")
        return {}
    cfg = load_config(ROOT / "configs/gowalla.yaml", [f"data.path={path}", f"train.epochs={epochs}",
                                                       f"train.eval_every={epochs + 1}", "train.progress=true"])
    seed_everything(cfg.train.seed)
    t0 = time.perf_counter()
    ds = load_dataset(cfg.data)
    graph = Graph.from_dataset(ds, "train")
    load_s = time.perf_counter() - t0
    m = build_model(cfg.model, ds, graph)
    ev = Evaluator(ds, ks=(20,), batch_users=cfg.train.eval_batch_users)
    res = Trainer(m, ds, cfg.train, evaluator=None).fit()
    t0 = time.perf_counter()
    test = ev.evaluate(m, "test")
    eval_s = time.perf_counter() - t0
    out = {"epochs": epochs, "load_and_graph_s": load_s, "s_per_epoch": res.seconds_per_epoch, "eval_s": eval_s,
           "recall@20": test["recall@20"], "ndcg@20": test["ndcg@20"], "reference_after_5": [0.1071, 0.0894]}
    print(f"Gowalla LightGCN after {epochs} epochs: Recall@20 {out['recall@20']:.4f} NDCG@20 {out['ndcg@20']:.4f} "
          f"(reference log after 5: 0.1071 / 0.0894); {out['s_per_epoch']:.1f} s/epoch, full evaluation "
          f"{eval_s:.1f} s, load+graph {load_s:.1f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[2020, 2021, 2022])
    ap.add_argument("--set", action="append", default=[], help="config override for the baselines")
    ap.add_argument("--quick", action="store_true", help="one seed, 20 epochs")
    ap.add_argument("--gowalla", action="store_true", help="only the Gowalla run")
    ap.add_argument("--gowalla-epochs", type=int, default=5)
    ap.add_argument("--epoch-time", action="store_true", help="only the ml-100k epoch-time measurement")
    ap.add_argument("--out", default="bench_out/bench_train.json")
    a = ap.parse_args()
    result: dict = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if a.gowalla:
        result["gowalla"] = gowalla(a.gowalla_epochs)
    elif a.epoch_time:
        result["epoch_time_ml100k"] = epoch_time(5)
    else:
        seeds, over = a.seeds, list(a.set)
        if a.quick:
            seeds, over = seeds[:1], over + ["train.epochs=20"]
        result["epoch_time_ml100k"] = epoch_time(5)
        result["baselines"] = baselines(seeds, over)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
