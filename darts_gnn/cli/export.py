"""``darts-gnn export``: write a run's serving bundle (see :mod:`darts_gnn.serve.bundle`)."""
from __future__ import annotations

import argparse

from ..errors import UserError
from ..serve import bundle_from_run, export_bundle


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("export", help="write a self-contained serving bundle of a trained run",
                       description="Compute the final embeddings of a trained run once and write them, "
                                   "with the id maps, the seen-items CSR, the genotype, the config and a "
                                   "manifest (hashes, data set fingerprint), to MODEL_DIR.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", "-o", required=True, metavar="MODEL_DIR")
    p.add_argument("--seen", default="train,valid,test", metavar="SPLITS",
                   help="comma-separated splits whose items are never served (default: train,valid,test)")
    p.add_argument("--no-explain", action="store_true",
                   help="leave out the weights and graph that explanations need (smaller bundle)")
    p.add_argument("--force", action="store_true", help="replace MODEL_DIR if it exists")
    return p


def parse_splits(text: str) -> tuple[str, ...]:
    splits = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in splits if s not in ("train", "valid", "test")]
    if bad or not splits:
        raise UserError(f"--seen: expected a comma-separated subset of train,valid,test, got {text!r}")
    return splits


def run(args: argparse.Namespace) -> int:
    splits = parse_splits(args.seen)
    bundle = bundle_from_run(args.run_dir, splits, explain=not args.no_explain)
    out = export_bundle(bundle, args.out, force=args.force)
    m = bundle.manifest["model"]
    print(f"exported {m['name']} ({bundle.n_users} users x {bundle.n_items} items, d={m['dim']}) to {out}, "
          f"version {bundle.manifest['files']['tables.pt'][:12]}")
    return 0
