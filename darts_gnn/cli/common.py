"""Pieces shared by the subcommands: config arguments, split checks, summaries (and, re-exported from
:mod:`darts_gnn.engine.checkpoint`, data set-up and checkpoints)."""
from __future__ import annotations

import argparse
import logging

from ..config import Config, load_config
from ..errors import DataError
from ..engine.checkpoint import (CHECKPOINT_FORMAT, load_checkpoint, load_data, load_run, run_config,
                                 save_checkpoint, setup_torch)

__all__ = ["add_config_args", "config_from_args", "check_splits", "format_metrics", "CHECKPOINT_FORMAT",
           "load_checkpoint", "load_data", "load_run", "run_config", "save_checkpoint", "setup_torch"]

log = logging.getLogger("darts_gnn")


def add_config_args(p: argparse.ArgumentParser, config_required: bool = False) -> None:
    p.add_argument("--config", "-c", required=config_required, metavar="YAML",
                   help="YAML config (default: the built-in synthetic quick-start settings)")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.epochs=5 (repeatable)")
    p.add_argument("--out", "-o", metavar="RUN_DIR", help="run directory (default: runs/<name>-<time>); "
                   "one that already holds a run is refused unless --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its files are deleted first)")
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="data parallel on N processes of this machine (starts torchrun; gloo on CPU, "
                        "nccl on GPUs); see docs/distributed.md")


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.set)


def check_splits(ds, splits=("test",)) -> None:
    """Refuse, before any training, a data set whose ``splits`` hold no (user, item) pair."""
    for split in splits:
        if len(ds.split(split)) == 0:
            hint = ("data.valid_fraction is 0 or every user has a single training item" if split == "valid"
                    else "the test file lists users without items, or no test user has training items")
            raise DataError(f"data set {ds.name!r}: the {split} split is empty ({hint})")


def format_metrics(rows: dict[str, dict[str, float]], keys: list[str]) -> str:
    """A small aligned table: one row per model, one column per metric."""
    name_w = max(len("model"), *(len(r) for r in rows))
    head = "model".ljust(name_w) + "".join(f"  {k:>11}" for k in keys)
    lines = [head, "-" * len(head)]
    for name, m in rows.items():
        cells = "".join(f"  {m[k]:>11.4f}" if isinstance(m.get(k), (int, float)) else f"  {'-':>11}"
                        for k in keys)
        lines.append(name.ljust(name_w) + cells)
    return "\n".join(lines)
