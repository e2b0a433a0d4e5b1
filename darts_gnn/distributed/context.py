"""The process group of a data-parallel run: set-up from torchrun's environment, rank queries, teardown.

``torchrun --nproc_per_node=N -m darts_gnn ...`` starts N copies of the command line with the
environment variables ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``.
:func:`session` (entered by the CLI around every subcommand) reads them and joins the group:

* backend ``nccl`` when CUDA is available (each process takes GPU ``LOCAL_RANK``), ``gloo`` otherwise
  (``DARTS_GNN_DIST_BACKEND`` overrides);
* every collective times out after ``DARTS_GNN_DIST_TIMEOUT`` seconds (default 600), so a rank that
  dies or hangs stops the others with a clear error instead of a silent wait;
* ranks other than 0 are quiet: no standard output, no progress bars (the Trainer and the Searcher
  show theirs on rank 0 only), warnings and errors only.

Outside torchrun (no ``WORLD_SIZE``, or ``WORLD_SIZE=1``) nothing happens and every helper of
:mod:`darts_gnn.distributed` is the identity: a one-process run takes exactly the code path it took
before distribution existed.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import sys
from typing import Iterator

import torch
import torch.distributed as dist

from ..errors import UserError

__all__ = ["init", "teardown", "session", "active", "rank", "world_size", "is_main", "backend_for",
           "timeout_seconds", "ENV_TIMEOUT", "ENV_BACKEND"]

log = logging.getLogger("darts_gnn")

ENV_TIMEOUT = "DARTS_GNN_DIST_TIMEOUT"
ENV_BACKEND = "DARTS_GNN_DIST_BACKEND"
_OWNED = False  # whether this module created the default process group (and so destroys it)


def active() -> bool:
    """Whether this process is one rank of a process group of two or more."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """The number of processes (1 outside a process group)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0: the process that writes the run directory, TensorBoard, checkpoints and prints."""
    return rank() == 0


def backend_for(device: str | None = None) -> str:
    """``nccl`` for CUDA, ``gloo`` for CPU (``device`` ``None``: CUDA when available);
    ``DARTS_GNN_DIST_BACKEND`` overrides."""
    forced = os.environ.get(ENV_BACKEND)
    if forced:
        if forced not in ("gloo", "nccl", "mpi"):
            raise UserError(f"{ENV_BACKEND}={forced!r}: expected gloo, nccl or mpi")
        return forced
    cuda = torch.cuda.is_available() if device is None else str(device).startswith("cuda")
    return "nccl" if cuda and dist.is_nccl_available() else "gloo"


def timeout_seconds() -> float:
    """Collective timeout in seconds: ``DARTS_GNN_DIST_TIMEOUT`` (default 600)."""
    raw = os.environ.get(ENV_TIMEOUT, "600")
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise UserError(f"{ENV_TIMEOUT}={raw!r}: expected a positive number of seconds")
    return value


def init(rank: int, world_size: int, init_method: str = "env://", backend: str | None = None,
         local_rank: int | None = None) -> None:
    """Join (create) the default process group as ``rank`` of ``world_size``; on CUDA, select GPU
    ``local_rank``. ``init_method``: ``env://`` (torchrun), ``file:///path`` or ``tcp://host:port``."""
    global _OWNED
    if dist.is_initialized():
        return
    backend = backend or backend_for()
    if backend == "nccl":
        torch.cuda.set_device(int(local_rank if local_rank is not None else rank))
    dist.init_process_group(backend, init_method=init_method, rank=int(rank), world_size=int(world_size),
                            timeout=_dt.timedelta(seconds=timeout_seconds()))
    _OWNED = True


def teardown() -> None:
    """Leave the process group (when this module created it)."""
    global _OWNED
    if _OWNED and dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()
    _OWNED = False


def _env_world() -> tuple[int, int, int] | None:
    """``(rank, world_size, local_rank)`` from torchrun's variables, or ``None`` outside torchrun."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise UserError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r}: expected an integer") from None
    if world <= 1:
        return None
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise UserError(f"WORLD_SIZE={world} but {', '.join(missing)} not set: start the command with "
                        f"torchrun (or darts-gnn ... --nproc {world})")
    r = int(os.environ["RANK"])
    return r, world, int(os.environ.get("LOCAL_RANK", r))


def _quiet() -> None:
    """Silence a rank other than 0: standard output to /dev/null, no progress bars, warnings only."""
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- lives as long as the process
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("darts_gnn").setLevel(logging.WARNING)


@contextlib.contextmanager
def session() -> Iterator[bool]:
    """Around one command: join the group when started by torchrun (yields whether distributed),
    silence ranks other than 0, leave the group afterwards."""
    env = _env_world()
    if env is None:
        yield False
        return
    r, world, local = env
    init(r, world, local_rank=local)
    if r != 0:
        _quiet()
    log.info("distributed: %d processes, backend %s", world, dist.get_backend())
    try:
        yield True
    finally:
        teardown()
