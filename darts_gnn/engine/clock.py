"""The clock that search budgets count with (``search.budget_clock``).

A search budget is a multiple of one baseline training (``search.budget_factor``): the baseline's
time, the supernet's, every candidate's and the deadlines are all read from :func:`now`, so only the
ratios matter and the unit cancels.

* ``cpu`` (the default of a search): this process's CPU time (:func:`time.process_time`). Other jobs
  on a shared machine do not advance it, so the same seed gets the same budget, and thus the same
  candidates, whether the machine is idle or busy. With one torch thread on an idle machine it
  equals wall time.
* ``wall``: wall time (:func:`time.perf_counter`), what a user waits. It is also what ``cpu``
  becomes (:func:`resolve` logs the choice) on a GPU, whose work CPU time does not see, and with
  more than one torch thread: then CPU time counts every thread, and how busy the threads are
  depends on the work (on ml-100k with 2 threads: 0.98 x wall time for a BPR epoch, 1.35 x for
  sampled softmax), so CPU-time ratios would no longer be wall-time ratios.

Outside :func:`counting` the clock is wall time, so plain training reports wall seconds.
"""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Iterator

import torch

__all__ = ["CLOCKS", "now", "kind", "resolve", "counting"]

log = logging.getLogger(__name__)

#: The clocks a budget may count with.
CLOCKS = ("cpu", "wall")

_kind = "wall"


def now() -> float:
    """Seconds on the current budget clock (only differences mean anything)."""
    return time.process_time() if _kind == "cpu" else time.perf_counter()


def kind() -> str:
    """The current budget clock: ``"cpu"`` or ``"wall"``."""
    return _kind


def _on_gpu(device) -> bool:
    """Whether ``device`` (a ``train.device`` value: ``cpu``, ``cuda[:n]``, ``auto``) trains on CUDA."""
    name = str(device)
    return name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())


def resolve(requested: str, device: str = "cpu", threads: int = 0) -> str:
    """The clock to count with: ``requested`` (one of :data:`CLOCKS`), except ``cpu`` on a CUDA
    ``device`` (or ``auto`` with CUDA present) or with more than one torch thread (``threads``, a
    ``train.num_threads`` value: 0 means torch's current setting), which counts ``wall`` (logged)."""
    if requested not in CLOCKS:
        raise ValueError(f"budget clock: expected one of {', '.join(CLOCKS)}, got {requested!r}")
    if requested == "cpu" and _on_gpu(device):
        log.info("search.budget_clock: cpu time does not count GPU work; the budget counts wall time on %s", device)
        return "wall"
    n = int(threads) if threads and threads > 0 else torch.get_num_threads()
    if requested == "cpu" and n > 1:
        log.info("search.budget_clock: with %d torch threads CPU time is not proportional to wall time; the "
                 "budget counts wall time (train.num_threads: 1 counts CPU time)", n)
        return "wall"
    return requested


@contextlib.contextmanager
def counting(requested: str, device: str = "cpu", threads: int = 0) -> Iterator[str]:
    """Within the block, :func:`now` reads the clock :func:`resolve` picks (yielded); the previous
    clock comes back after it."""
    global _kind
    before, _kind = _kind, resolve(requested, device, threads)
    try:
        yield _kind
    finally:
        _kind = before
