"""The command line shared by the per-task benchmarks (``bench_social.py``, ``bench_profile.py``): run
``one_seed(seed, overrides)`` for each ``--seeds``, rewrite ``<name>.json`` / ``<name>.md`` after every
seed (a stopped run keeps its finished rows), and print the table."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


def run_seeded(name: str, doc: str, one_seed: Callable[[int, list], dict], table: Callable[[dict], str],
               argv=None) -> int:
    """Parse ``--seeds --threads --set --out``, run every seed with ``train.num_threads`` set, write
    the report after each seed under ``--out`` (default ``benchmarks/results/<name>``), print the table."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / name))
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = list(args.set) + [f"train.num_threads={args.threads}"]
    report = {"command": " ".join(["python", f"benchmarks/bench_{name}.py",
                                   *(argv if argv is not None else sys.argv[1:])]),
              "threads": args.threads, "rows": []}
    for seed in args.seeds:
        report["rows"].append(one_seed(seed, overrides))
        (out / f"bench_{name}.json").write_text(json.dumps(report, indent=2))
        (out / f"bench_{name}.md").write_text(table(report))
    print(table(report))
    return 0
