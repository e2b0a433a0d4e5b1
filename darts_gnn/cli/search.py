"""``darts-gnn search``: differentiable search -> genotype -> retrain from scratch -> test."""
from __future__ import annotations

import argparse

from .common import add_config_args, config_from_args, format_metrics, log, save_checkpoint, setup_torch
from ..config import load_config
from ..errors import UserError
from ..engine.rundir import open_run, RunDir
from ..pipeline import run_search
from ..search.seeds import compare_text, seed_configs, summarise
from .common import check_splits, load_data
from ..space.registry import SearchSpace


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
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="run the search N times (train.seed and search.seed + 0..N-1, one run "
                        "directory each under the output) and report mean ± std against the baseline")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted search from RUN_DIR/search_state.pt, with the settings "
                        "in RUN_DIR/config.yaml (--set may change ones that do not alter the search)")
    return p


def _resume_config(args: argparse.Namespace):
    """Config of ``--resume RUN_DIR`` (issue 5): RUN_DIR/config.yaml plus ``--set``."""
    from pathlib import Path

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


def _run_seeds(args: argparse.Namespace) -> int:
    """``--seeds N``: one search per seed in ``<run>/seed<i>``, then the mean ± std comparison."""
    if args.seeds < 1 or getattr(args, "resume", None):
        raise UserError("--seeds: expected a positive integer, and no --resume")
    cfg = config_from_args(args)
    setup_torch(cfg)
    ds, graph = load_data(cfg)  # the data split is the same for every seed (data.seed)
    check_splits(ds)
    name = "search" if cfg.name == "run" else cfg.name
    reports = []
    with open_run(args.out, name, cfg.out_dir, command="search", overwrite=args.overwrite) as root:
        for i, c in enumerate(seed_configs(cfg, args.seeds)):
            run_dir = RunDir(root.path / f"seed{i}")
            try:
                reports.append(run_search(c, run_dir, compare_baseline=args.compare_baseline,
                                          dataset=ds, graph=graph))
                if reports[-1].model is not None:
                    m = reports[-1].model
                    save_checkpoint(run_dir, m, c, {"model_name": "genotype", "n_users": m.n_users,
                                                    "n_items": m.n_items, "genotype": reports[-1].genotype.to_json()},
                                    dataset=ds)
            finally:
                run_dir.close()
            print(f"seed {i}: {reports[-1].genotype.summary()}")
        summary = summarise(reports, [f"{m}@{k}" for k in cfg.train.ks for m in ("recall", "ndcg")])
        root.write_json("seeds.json", summary)
    print(compare_text(summary, cfg.model.name))
    print(f"run directory: {root.path}")
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "seeds", 1) != 1:
        return _run_seeds(args)
    resume = bool(getattr(args, "resume", None))
    cfg = _resume_config(args) if resume else config_from_args(args)
    setup_torch(cfg)
    SearchSpace.for_run(cfg)  # a bad search space, like bad data, is refused before the run
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
    ranking = cfg.task.name == "ranking"
    if not ranking:                      # the task's own metrics (rating: rmse, mae, mse)
        keys = list(report.test or (report.baseline or {}).get("test", {}))
    rows = {}
    if report.test:
        rows["searched (retrained)"] = report.test
    if report.baseline is not None:
        rows[f"{report.baseline['name']} (baseline)"] = report.baseline["test"]
    if rows:
        print(format_metrics(rows, keys))
    if report.baseline is not None and report.test and ranking:
        print(compare_text(summarise([report], keys), report.baseline["name"]))
    for w in (report.diagnostics or {}).get("warnings", []):
        print(f"warning: {w}")
    if report.diagnostics.get("proxy_spearman") is not None:
        print(f"one-shot proxy: Spearman {report.diagnostics['proxy_spearman']:+.2f} vs retrained validation")
    times = f"search {report.search.seconds:.1f} s ({report.search.epochs_run} epochs)"
    if report.retrain is not None:
        times += f", retrain {report.retrain_seconds:.1f} s ({report.retrain.epochs_run} epochs)"
    if report.baseline is not None:
        times += f", {report.baseline['name']} {report.baseline['train_seconds']:.1f} s"
    print(f"{times}; run directory: {run_dir.path}")
    return 0
