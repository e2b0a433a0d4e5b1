"""One architecture under several training recipes: how much per-architecture hyperparameters matter.

Trains the LightGCN genotype (or ``--layers``) with the given recipe on a shipped data set config
(``configs/<dataset>.yaml``), early stopping on validation (``--patience`` evaluations every
``--eval-every`` epochs), and prints one JSON line: validation and test Recall@20 / NDCG@20, seconds.

    python benchmarks/bench_recipes.py ml100k '{"lr": 0.005, "l2": 0.001}'
    python benchmarks/bench_recipes.py ml100k '{"loss": "softmax", "negatives": 64, "temperature": 0.1, "lr": 0.005}' --norm
    python benchmarks/bench_recipes.py lastfm '{"lr": 0.005}' --genotype 'w64 | gcn_a75>identity+res, gcn_a75>identity | combine=last'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset", help="a config name in configs/ (ml100k, lastfm, ...)")
    p.add_argument("recipe", help="recipe fields as JSON (darts_gnn.search.recipe.Recipe)")
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--genotype", default=None, help="an architecture as Genotype.summary() prints it "
                   "(default: LightGCN with --layers)")
    p.add_argument("--norm", action="store_true", help="L2-normalised outputs (cosine scores)")
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=None, help="train.seed (default: the config's)")
    args = p.parse_args(argv)
    import torch

    from darts_gnn.config import load_config
    from darts_gnn.data import Graph, load_dataset
    from darts_gnn.space.genotype import Genotype
    from darts_gnn.tasks.metrics import Evaluator
    from darts_gnn.search.recipe import Recipe
    from darts_gnn.search.select import train_candidate
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_proxy import parse_summary
    torch.set_num_threads(args.threads)
    cfg = load_config(ROOT / "configs" / f"{args.dataset}.yaml",
                      ["train.progress=false", f"train.eval_every={args.eval_every}"]
                      + ([f"train.seed={args.seed}"] if args.seed is not None else []))
    dataset = load_dataset(cfg.data)
    graph = Graph.from_dataset(dataset, "train")
    ev = Evaluator(dataset, ks=(20,))
    arch = parse_summary(args.genotype) if args.genotype else Genotype.lightgcn(args.layers, cfg.model.dim)
    g = arch.with_(norm=args.norm,
                                                            recipe=Recipe.from_dict(json.loads(args.recipe)))
    t0 = time.perf_counter()
    model, res, _ = train_candidate(g, dataset, graph, cfg.train, ev, patience=args.patience)
    test = ev.evaluate(model, "test")
    print(json.dumps({"dataset": args.dataset, "seed": cfg.train.seed, "genotype": g.summary(), "valid_recall@20": res.best_valid["recall@20"],
                      "test_recall@20": test["recall@20"], "test_ndcg@20": test["ndcg@20"],
                      "seconds": round(time.perf_counter() - t0), "epochs": res.epochs_run,
                      "best_epoch": res.best_epoch}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
