"""``darts-gnn serve``: HTTP top-K recommendations from a bundle (needs the ``serve`` extra)."""
from __future__ import annotations

import argparse

from ..errors import UserError
from ..serve.http import create_app


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("serve", help="serve recommendations over HTTP from an exported bundle",
                       description="Endpoints: GET /health, GET /info, GET /recommend?user=ID&k=10[&explain=1], "
                                   "POST /recommend (batch), POST /reload. See docs/serving.md.")
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-k", type=int, default=1000, help="largest k a request may ask for")
    p.add_argument("--max-batch", type=int, default=1000, help="most users in one POST /recommend")
    p.add_argument("--ann", action="store_true", help="approximate retrieval with faiss (the ann extra)")
    p.add_argument("--watch", type=float, default=0.0, metavar="SECONDS",
                   help="check MODEL_DIR/manifest.json this often and reload when it changes (0: off)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    return p


def run(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise UserError(f"--port: expected 1..65535, got {args.port}")
    try:
        import uvicorn

    except ImportError as e:
        raise UserError(f"darts-gnn serve needs the serve extra ({e.name} is missing): "
                        f"pip install 'darts-gnn[serve]'") from None
    if args.watch < 0:
        raise UserError(f"--watch: expected seconds >= 0, got {args.watch}")
    if args.threads > 0:
        import torch
        torch.set_num_threads(args.threads)
    app = create_app(args.model_dir, max_k=args.max_k, max_batch=args.max_batch, ann=args.ann,
                     watch=args.watch)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
