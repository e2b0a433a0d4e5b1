"""``darts-gnn evaluate``: evaluate a trained run's checkpoint on a split under the full-ranking protocol."""
from __future__ import annotations

import argparse

from .common import check_splits, format_metrics, load_run
from ..errors import UserError
from ..store.files import strict_json
from ..tasks import config_evaluator


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help="evaluate a trained run directory",
                       description="Rebuild the data and model of a run directory from its config.yaml "
                                   "and model.pt, and print full-ranking metrics.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--split", choices=("test", "valid"), default="test")
    p.add_argument("--k", type=int, nargs="+", default=None, metavar="K", help="cut-offs (default: train.ks)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def run(args: argparse.Namespace) -> int:
    cfg, ds, _, model = load_run(args.run_dir)
    ks = args.k or cfg.train.ks
    if any(k <= 0 for k in ks):
        raise UserError(f"--k: expected positive integers, got {ks}")
    check_splits(ds, (args.split,))
    metrics = config_evaluator(cfg, ds, ks).evaluate(model, args.split)
    if args.json:
        print(strict_json(metrics))
    else:
        keys = [f"{m}@{k}" for k in ks for m in ("recall", "ndcg", "precision", "hitrate")]
        if cfg.task.name != "ranking":
            keys = list(metrics)
        print(format_metrics({f"{args.run_dir} ({args.split})": metrics}, keys))
    return 0
