"""The clock that search budgets count with (``search.budget_clock``).

A search budget is a multiple of one baseline training (``search.budget_factor``): the baseline's
time, the supernet's, every candidate's and the deadlines are all read from :func:`now`, so only the
ratios matter and the unit cancels.

* ``cpu`` (the default of a search): this process's CPU time (:func:`time.process_time`, every thread
  counted). Other jobs on a shared machine do not advance it, so the same seed gets the same budget,
  and thus the same candidates, whether the machine is idle or busy. On an idle machine with one
  torch thread it equals wall time; with ``n`` threads it counts up to ``n`` x wall time, for the
  baseline and the candidates alike.
* ``wall``: wall time (:func:`time.perf_counter`), what a user waits. It is also what a search on a
  GPU counts: CPU time does not see the device's work (:func:`resolve` logs that choice).

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


def resolve(requested: str, device: str = "cpu") -> str:
    """The clock to count with: ``requested`` (one of :data:`CLOCKS`), except ``cpu`` on a CUDA
    ``device`` (or ``auto`` with CUDA present), which counts ``wall`` (logged)."""
    if requested not in CLOCKS:
        raise ValueError(f"budget clock: expected one of {', '.join(CLOCKS)}, got {requested!r}")
    if requested == "cpu" and _on_gpu(device):
        log.info("search.budget_clock: cpu time does not count GPU work; the budget counts wall time on %s", device)
        return "wall"
    return requested


@contextlib.contextmanager
def counting(requested: str, device: str = "cpu") -> Iterator[str]:
    """Within the block, :func:`now` reads the clock :func:`resolve` picks (yielded); the previous
    clock comes back after it."""
    global _kind
    before, _kind = _kind, resolve(requested, device)
    try:
        yield _kind
    finally:
        _kind = before
