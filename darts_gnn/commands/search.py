"""``darts-gnn search``: differentiable search -> genotype -> retrain from scratch -> test."""
from __future__ import annotations

import argparse

from .common import add_config_args, config_from_args, format_metrics, log, save_checkpoint, setup_torch


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "search", help="search an architecture, retrain it and evaluate it",
        description="Differentiable architecture search (DARTS) over the search space: weights on "
                    "training BPR, architecture on validation BPR; the argmax architecture is saved "
                    "as genotype.json, retrained from scratch (early stop on validation) and evaluated "
                    "on test. Without --config it runs on the built-in synthetic data. Watch it with "
                    "'tensorboard --logdir runs'.")
    add_config_args(p)
    p.add_argument("--compare-baseline", action="store_true",
                   help="also train the config's model (LightGCN by default) under the same protocol "
                        "and print it next to the found architecture")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted search from RUN_DIR/search_state.pt, with the settings "
                        "in RUN_DIR/config.yaml (--set may change ones that do not alter the search)")
    return p


def _resume_config(args: argparse.Namespace):
    """Config of ``--resume RUN_DIR`` (issue 5): RUN_DIR/config.yaml plus ``--set``."""
    from pathlib import Path

    from ..config import load_config
    from ..errors import UserError
    if args.config:
        raise UserError("--resume takes the settings from RUN_DIR/config.yaml; drop --config")
    if args.out and Path(args.out).resolve() != Path(args.resume).resolve():
        raise UserError("--resume continues in RUN_DIR itself; drop --out")
    if args.overwrite:
        raise UserError("--resume continues the run in RUN_DIR; --overwrite would delete it: use one or the other")
    if not Path(args.resume).is_dir():
        raise UserError(f"{args.resume}: run directory not found")
    if not (Path(args.resume) / "config.yaml").is_file():
        raise UserError(f"{args.resume}: not a search run directory (no config.yaml)")
    if not (Path(args.resume) / "search_state.pt").is_file():
        raise UserError(f"{args.resume}: no search checkpoint (search_state.pt) to resume from")
    return load_config(Path(args.resume) / "config.yaml", args.set)


def run(args: argparse.Namespace) -> int:
    from ..rundir import open_run
    from ..search.pipeline import run_search
    from .common import check_splits, load_data
    resume = bool(getattr(args, "resume", None))
    cfg = _resume_config(args) if resume else config_from_args(args)
    setup_torch(cfg)
    from ..space import SearchSpace
    SearchSpace.from_config(cfg.search)  # a bad search space, like bad data, is refused before the run
    ds, graph = load_data(cfg)  # directory exists
    if cfg.search.retrain or args.compare_baseline:
        check_splits(ds)
    name = "search" if cfg.name == "run" else cfg.name
    out = args.resume if resume else args.out
    with open_run(out, name, cfg.out_dir, command="search", overwrite=args.overwrite, resume=resume) as run_dir:
        log.info("run directory: %s", run_dir.path)
        state = run_dir.file("search_state.pt")
        args._interrupt_hint = lambda: (f"run directory {run_dir.path} is marked interrupted; continue with "
                                        f"'darts-gnn search --resume {run_dir.path}'") if state.is_file() else None
        report = run_search(cfg, run_dir, compare_baseline=args.compare_baseline, resume=resume,
                            dataset=ds, graph=graph)
        if report.model is not None:
            save_checkpoint(run_dir, report.model, cfg, {
                "model_name": "genotype", "n_users": report.model.n_users, "n_items": report.model.n_items,
                "genotype": report.genotype.to_json()}, dataset=ds)
    print(f"found architecture: {report.genotype.summary()}")
    keys = [f"{m}@{k}" for k in cfg.train.ks for m in ("recall", "ndcg")]
    rows = {}
    if report.test:
        rows["searched (retrained)"] = report.test
    if report.baseline is not None:
        rows[f"{report.baseline['name']} (baseline)"] = report.baseline["test"]
    if rows:
        print(format_metrics(rows, keys))
    times = f"search {report.search.seconds:.1f} s ({report.search.epochs_run} epochs)"
    if report.retrain is not None:
        times += f", retrain {report.retrain_seconds:.1f} s ({report.retrain.epochs_run} epochs)"
    if report.baseline is not None:
        times += f", {report.baseline['name']} {report.baseline['train_seconds']:.1f} s"
    print(f"{times}; run directory: {run_dir.path}")
    return 0
