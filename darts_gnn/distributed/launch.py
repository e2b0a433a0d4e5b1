"""``darts-gnn COMMAND --nproc N ...``: start the same command on N processes of this machine.

:func:`launch` does what ``torchrun --standalone --nproc_per_node=N -m darts_gnn ARGS`` does (ARGS
without ``--nproc``), through torch's elastic launcher API: a rendezvous on a free local port, N
worker processes with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_*`` set, ``OMP_NUM_THREADS=1``
unless set, no restarts. When a rank fails, the agent stops the others (SIGTERM: they mark the run
directory ``interrupted``) and :func:`launch` prints one line naming the rank that failed first and
returns its exit code (``128 + signal`` for a killed rank) instead of torchrun's traceback.
"""
from __future__ import annotations

import os
import signal
import sys
import uuid
from typing import Sequence

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from ..errors import UserError

__all__ = ["launch", "strip_nproc", "torchrun_command", "launch_config"]


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


def _check(nproc) -> int:
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise UserError(f"--nproc: expected a positive number of processes, got {nproc!r}")
    return nproc


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    """The equivalent torchrun command line (for documentation and scripts)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={_check(nproc)}",
            "-m", "darts_gnn", *strip_nproc(argv)]


def launch_config(nproc: int) -> LaunchConfig:
    """``torchrun --standalone --nproc_per_node=nproc --max-restarts=0`` as a :class:`LaunchConfig`."""
    return LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=_check(nproc),
                        run_id=f"darts-gnn-{uuid.uuid4().hex[:8]}", rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.2)


def _exit_code(failure) -> int:
    code = int(failure.exitcode)
    return 128 - code if code < 0 else code


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run ``darts-gnn argv`` on ``nproc`` processes (see the module docstring); the exit code."""
    config = launch_config(nproc)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        elastic_launch(config, sys.executable)("-m", "darts_gnn", *strip_nproc(argv))
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        code = _exit_code(failure)
        how = (f"was killed by {signal.Signals(-failure.exitcode).name}" if failure.exitcode < 0
               else f"exited with code {failure.exitcode}")
        print(f"darts-gnn: error: rank {rank} of {nproc} {how} first; the other ranks were stopped "
              f"(see their messages above)", file=sys.stderr)
        return code
    return 0
