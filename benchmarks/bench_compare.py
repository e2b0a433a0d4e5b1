"""Issue-5 acceptance benchmark: DARTS (softmax / gumbel / sigmoid) vs random search at equal budget vs
LightGCN vs MF on ml-100k (split-2020) and LastFM, several seeds, all retrained under one protocol.

    python benchmarks/bench_compare.py                      # full budgets of configs/search_*.yaml
    python benchmarks/bench_compare.py --quick              # epoch caps for a shared 2-core box
    python benchmarks/bench_compare.py --quick --datasets ml100k --seeds 1 --methods darts-softmax lightgcn
    python benchmarks/bench_compare.py --quick --resume     # continue an interrupted benchmark

Per data set it writes ``<out>/<dataset>/compare.json`` and ``compare.md`` (the same files as
``darts-gnn compare``), then ``<out>/bench_compare.md`` with every data set's table. Results are saved
after every run; ``--resume`` skips the runs already there. Data sets not on disk are skipped.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from darts_gnn.experiments.compare import METHODS, markdown_report, run_compare  # noqa: E402
from darts_gnn.config import load_config  # noqa: E402
from darts_gnn.engine.rundir import RunDir  # noqa: E402

# --quick uses the caps of benchmarks/bench_search.py (issue 4), imported so the two benchmarks agree,
# for every method alike: retrains stop at 60 epochs (validation every 5, patience 4), searches run 8.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import DATASETS, QUICK  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--methods", nargs="+", default=list(METHODS),
                   help="strategies (darts, random, evolution, rl), <strategy>-<relaxation>, or models")
    p.add_argument("--random-samples", type=int, default=8)
    p.add_argument("--quick", action="store_true", help="epoch caps for a small shared machine")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config override")
    p.add_argument("--out", default=str(ROOT / "bench_out" / "compare"))
    p.add_argument("--resume", action="store_true", help="skip the runs already in <out>")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    overrides = (QUICK if args.quick else []) + ["train.progress=false"] + (
        [f"train.num_threads={args.threads}"] if args.threads else []) + args.set
    sections = [f"Command: `python benchmarks/bench_compare.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
                f"Overrides: `{' '.join(overrides)}`", ""]
    for name in args.datasets:
        cfg = load_config(DATASETS[name], overrides)
        data_path = Path(cfg.data.path)
        if not data_path.is_absolute() and not data_path.exists():
            data_path = DATASETS[name].parent / data_path
        if not data_path.exists():
            print(f"{name}: {cfg.data.path} not found, skipped", file=sys.stderr)
            sections += [f"## {name}", "", f"skipped: {cfg.data.path} not found", ""]
            continue
        run = RunDir(Path(args.out) / name)
        t0 = time.perf_counter()
        report = run_compare(cfg, seeds=list(range(args.seeds)), methods=args.methods,
                             random_samples=args.random_samples, run=run, resume=args.resume)
        minutes = (time.perf_counter() - t0) / 60
        sections += [f"## {name} ({report['dataset'].get('users', '?')} users, "
                     f"{report['dataset'].get('items', '?')} items; {minutes:.1f} min this call)", "",
                     markdown_report(report), ""]
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "bench_compare.md").write_text("\n".join(sections) + "\n")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "bench_compare.md").write_text("\n".join(sections) + "\n")
    print("\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
