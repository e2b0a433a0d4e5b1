"""``darts-gnn COMMAND --nproc N ...``: start the same command on N processes through torchrun.

:func:`launch` runs ``python -m torch.distributed.run --standalone --nproc_per_node=N -m darts_gnn
ARGS`` (ARGS without ``--nproc``) and returns its exit code; torchrun's elastic agent picks a free
port, starts the ranks, and stops all of them when one fails.
"""
from __future__ import annotations

import subprocess
import sys
from typing import Sequence

from ..errors import UserError

__all__ = ["launch", "strip_nproc", "torchrun_command"]


def strip_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N``."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        out.append(a)
    return out


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    """The torchrun command line that runs ``darts-gnn argv`` on ``nproc`` processes of this machine."""
    if not isinstance(nproc, int) or nproc < 1:
        raise UserError(f"--nproc: expected a positive number of processes, got {nproc!r}")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "darts_gnn", *strip_nproc(argv)]


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run ``darts-gnn argv`` on ``nproc`` processes (see the module docstring); the exit code."""
    return subprocess.call(torchrun_command(nproc, argv))
