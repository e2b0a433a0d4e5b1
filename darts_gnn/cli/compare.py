"""``darts-gnn compare``: any list of search strategies (DARTS with each relaxation, random, evolution,
REINFORCE, ...) and baseline models over several seeds, at equal search budget."""
from __future__ import annotations

import argparse

from .common import add_config_args, config_from_args, log, setup_torch
from ..experiments.compare import markdown_report, method_kind, METHODS, run_compare
from ..errors import UserError
from ..engine.rundir import open_run


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "compare", help="compare DARTS, random search, LightGCN and MF over seeds",
        description="For each seed: DARTS with each relaxation (softmax, gumbel, sigmoid), random search "
                    "in the same space with the same wall-clock budget, LightGCN and MF; every "
                    "architecture retrained from scratch under the config's train section and tested "
                    "once. Writes compare.md (table: mean ± std of test Recall@20 / NDCG@20, search and "
                    "retrain seconds) and compare.json (every run, genotypes, α trajectories) to the run "
                    "directory.")
    add_config_args(p)
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds 0..N-1 (default 3)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), metavar="METHOD",
                   help=f"registered strategies (darts, random, evolution, rl, ...), <strategy>-<relaxation> "
                        f"(darts-gumbel) or registered models (lightgcn, mf); default: {' '.join(METHODS)}")
    p.add_argument("--random-samples", type=int, default=8, metavar="N",
                   help="genotypes random search tries (default 8)")
    p.add_argument("--random-seconds", type=float, default=None, metavar="S",
                   help="fixed budget in seconds of the strategies other than DARTS (default: the mean "
                        "DARTS search time of the same seed)")
    p.add_argument("--resume", action="store_true",
                   help="keep the runs already in RUN_DIR/compare.json (same settings) and do the rest")
    return p


def run(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise UserError(f"--seeds: expected a positive number of seeds, got {args.seeds}")
    if args.random_samples < 1:
        raise UserError(f"--random-samples: expected a positive integer, got {args.random_samples}")
    if args.random_seconds is not None and not args.random_seconds > 0:
        raise UserError(f"--random-seconds: expected a positive number, got {args.random_seconds}")
    for m in args.methods:
        try:
            method_kind(m)
        except ValueError as e:
            raise UserError(f"--methods: {e}") from None
    if args.resume and not args.out:
        raise UserError("--resume needs --out RUN_DIR (the comparison to continue)")
    cfg = config_from_args(args)
    setup_torch(cfg)
    name = "compare" if cfg.name == "run" else f"compare-{cfg.name}"
    with open_run(args.out, name, cfg.out_dir, command="compare", overwrite=args.overwrite,
                  resume=args.resume) as run_dir:
        log.info("run directory: %s", run_dir.path)
        report = run_compare(cfg, seeds=list(range(args.seeds)), methods=args.methods,
                             random_samples=args.random_samples, random_budget_seconds=args.random_seconds,
                             run=run_dir, resume=args.resume, progress=cfg.train.progress)
    print(markdown_report(report).split("\n\n")[0])
    print(f"\nfull report: {run_dir.file('compare.md')} and compare.json")
    return 0
