"""The ``darts-gnn`` command line: a thin dispatcher over ``darts_gnn.cli.<name>``.

Each subcommand module exposes ``add_parser(subparsers)`` and ``run(args) -> int``. The error boundary
in :func:`main` turns every expected failure into one line on stderr and a documented exit code
(:mod:`darts_gnn.errors`: 2 bad input, 3 divergence, 130 SIGINT, 143 SIGTERM); a traceback is printed
only with ``-v``. SIGTERM is turned into an exception in the main thread, so that a terminated run
closes its files and marks its run directory ``interrupted`` exactly as Ctrl-C does.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
import traceback
from ..version import __version__
from ..distributed import launch, session
from ..errors import classify, Interrupted

__all__ = ["main", "build_parser"]

EXIT_SIGPIPE = 128 + 13  # what a shell reports for a filter whose reader closed the pipe

COMMANDS = ("train", "search", "evaluate", "recommend", "compare", "export", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="darts-gnn",
        description="Differentiable architecture search for graph-neural-network recommenders.",
        epilog="exit codes: 0 ok, 1 internal error, 2 bad input (config, data, files, run directory), "
               "3 diverged, 130 interrupted (SIGINT), 141 output pipe closed, 143 terminated (SIGTERM); "
               "see docs/reliability.md")
    parser.add_argument("--version", action="version", version=f"darts-gnn {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"darts_gnn.cli.{name}")
        except ModuleNotFoundError as e:  # a subcommand whose module is not there: skip it
            if e.name and e.name.startswith("darts_gnn.cli"):
                continue
            raise
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


@contextlib.contextmanager
def _sigterm_raises():
    """While active (main thread only), SIGTERM raises :class:`~darts_gnn.errors.Interrupted`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    nproc = getattr(args, "nproc", None)
    try:
        if nproc is not None and nproc != 1 and os.environ.get("WORLD_SIZE") is None:
            return launch(nproc,  # --nproc N: this command on N processes, through torchrun
                           sys.argv[1:] if argv is None else argv)
        with _sigterm_raises(), session():
            return int(args._run(args) or 0)
    except (SystemExit, GeneratorExit):
        raise
    except BrokenPipeError:  # the reader went away (`darts-gnn evaluate RUN | head -1`): stop quietly
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_SIGPIPE
    except BaseException as e:  # the error boundary: one line, a documented exit code
        code, msg = classify(e)
        if args.verbose:
            traceback.print_exc()
        hint = getattr(args, "_interrupt_hint", None) if isinstance(e, KeyboardInterrupt) else None
        hint = hint() if callable(hint) else hint
        print(f"darts-gnn: error: {msg}" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
