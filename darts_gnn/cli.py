"""The ``darts-gnn`` command line: a thin dispatcher over ``darts_gnn.commands.<name>``.

Each subcommand module exposes ``add_parser(subparsers)`` and ``run(args) -> int``. Bad input
(config, data, files) is reported as one line on stderr with exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["main", "build_parser"]

COMMANDS = ("train", "search", "evaluate", "recommend", "compare", "export", "serve")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="darts-gnn",
        description="Differentiable architecture search for graph-neural-network recommenders.")
    parser.add_argument("--version", action="version", version=f"darts-gnn {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"darts_gnn.commands.{name}")
        except ModuleNotFoundError as e:  # a subcommand whose module is not there: skip it
            if e.name and e.name.startswith("darts_gnn.commands"):
                continue
            raise
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .errors import user_errors
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except user_errors() as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, FileNotFoundError) and e.filename:
            msg = f"{e.filename}: file not found"
        print(f"darts-gnn: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("darts-gnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
