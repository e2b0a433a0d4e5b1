"""Helpers of the fault-injection tests: the CLI in a subprocess, optionally slowed down per epoch.

``cli_cmd(*args, slow=0.4)`` runs ``python -c <code> args``: the code wraps the search's checkpoint hook
and the trainer's epoch (through the public Python API) with a sleep, and appends a line to
``$FAULTKIT_MARK`` (when set) after each, so that a test can send a signal while a tiny run is midway.
Nothing in the package reads an environment variable for this.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_SLOW = """
import os, sys, time
delay = float(sys.argv.pop(1))
mark = os.environ.get("FAULTKIT_MARK")
def _mark(what):
    if mark:
        with open(mark, "a") as f:
            f.write(what + "\\n")
from darts_gnn.search import checkpoint as _c
from darts_gnn.engine import train as _t
_hook = _c.CheckpointHook.__call__
def _slow_hook(self, *a):
    out = _hook(self, *a)
    _mark("search")
    time.sleep(delay)
    return out
_c.CheckpointHook.__call__ = _slow_hook
_epoch = _t.Trainer.train_epoch
def _slow_epoch(self, epoch):
    out = _epoch(self, epoch)
    _mark("train")
    time.sleep(delay)
    return out
_t.Trainer.train_epoch = _slow_epoch
from darts_gnn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cli_cmd(*args: str, slow: float = 0.0) -> list[str]:
    """argv of ``darts-gnn args`` in a fresh interpreter; ``slow`` seconds of sleep after each epoch."""
    if slow > 0:
        return [sys.executable, "-c", _SLOW, str(slow), *args]
    return [sys.executable, "-m", "darts_gnn", *args]


def cli_env(**extra: str) -> dict:
    """Environment for :func:`cli_cmd`: this checkout first on ``PYTHONPATH``, the pure-PyTorch
    aggregation (no kernel compile inside a test's time budget)."""
    env = dict(os.environ, DARTS_GNN_NO_EXT="1", **extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


TINY = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
        "data.synthetic.n_communities=4", "train.epochs=2", "train.batch_size=256", "train.progress=false",
        "train.num_threads=1", "model.dim=8", "model.n_layers=1"]
SEARCH = ["search.epochs=3", "search.warmup_epochs=1", "search.n_layers=1", "search.retrain=false",
          "search.eval_every=0", "search.log_every=0", "search.batch_size=256"]


def sets(*extra: str, base=TINY) -> list[str]:
    """``--set`` arguments for the tiny synthetic run plus ``extra``."""
    return [x for s in [*base, *extra] for x in ("--set", s)]


def one_error(err: str) -> str:
    """The single ``darts-gnn: error:`` line of ``err`` (asserting there is exactly one, no traceback)."""
    assert "Traceback" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.startswith("darts-gnn: error:")]
    assert len(lines) == 1, err[-3000:]
    return lines[0]


#: when set, every outcome is appended to this JSON-lines file (benchmarks/fault_table.py reads it)
LOG_ENV = "FAULT_TABLE_LOG"


def record(rc: int, line: str) -> None:
    """Log ``(test id, exit code, message)`` for the table of docs/reliability.md (only when
    ``$FAULT_TABLE_LOG`` is set)."""
    log = os.environ.get(LOG_ENV)
    if log:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"test": test, "rc": rc, "line": line}) + "\n")


def cli(argv: list[str], capsys) -> tuple[int, str]:
    """Run the CLI in this process: ``(exit code, the one error line or '')``."""
    from darts_gnn.cli import main
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    line = one_error(err) if rc else ""
    record(rc, line)
    return rc, line


def tree(path: Path) -> list[str]:
    """Sorted relative names under ``path`` (``[]`` when it does not exist)."""
    path = Path(path)
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []
