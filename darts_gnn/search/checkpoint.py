"""Search checkpoints that survive interruption, and the guard against NaN/inf losses.

After every epoch the searcher's full state (weights, α, both optimisers, relaxation and monitor state,
epoch counter, RNG streams) is written to ``RUN_DIR/search_state.pt`` through a temporary file and an
atomic rename, so a run killed at any moment (SIGTERM, SIGKILL, power cut of the process) leaves either
the previous or the new checkpoint, never a torn one. ``darts-gnn search --resume RUN_DIR`` reloads it and
continues; with the same seed the resumed search ends with the same α and genotype as an uninterrupted
one (RNG states are part of the checkpoint).

The file loads with ``torch.load(..., weights_only=True)``: the state may only hold tensors, numbers,
strings, booleans, ``None`` and lists/tuples/dicts of them. NumPy arrays and Python's ``random`` state
are converted to tensors and lists here (:func:`capture_rng_state`); :func:`check_state` rejects
anything else at save time, naming the key, instead of failing later at resume.

NaN guard: :func:`check_finite` raises :class:`SearchDivergedError` for a non-finite loss, and
:meth:`SearchCheckpointer.save` refuses to write a state whose floating-point tensors are not finite, so
the last good checkpoint stays in place and the run stops with a message that says where it is.

Verification: every saved state carries a manifest (format version, data-set fingerprint, config hash)
and a content hash (:mod:`darts_gnn.store.manifest`); loading refuses a file whose hash does not match (a
flipped bit, a torn copy) and ``--resume`` refuses a data set other than the one the state was made
from, naming the fields that differ.
"""
from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ..config import config_to_dict
from ..errors import UserError
from ..store.manifest import check_dataset, make_manifest, seal
from ..engine.rundir import RunDir, atomic_write, load_versioned
from ..engine.train import TrainingError
from .hessian import EigenvalueGuard, EigenvalueMonitor

__all__ = [
    "CHECKPOINT_NAME", "CHECKPOINT_FORMAT", "SearchDivergedError", "check_finite", "check_state",
    "capture_rng_state", "restore_rng_state", "save_search_state", "load_search_state",
    "SearchCheckpointer", "CheckpointHook", "attach_checkpointing",
]

log = logging.getLogger("darts_gnn.search")

CHECKPOINT_NAME = "search_state.pt"
CHECKPOINT_FORMAT = 1


class SearchDivergedError(TrainingError, UserError):
    """A loss (or the state to be saved) is NaN or infinite: the search stops, the last good
    checkpoint is kept. A :class:`~darts_gnn.engine.train.TrainingError` and, for the CLI, a
    :class:`~darts_gnn.errors.UserError` (one line on stderr, exit code 2)."""


class Stateful(Protocol):
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> Any: ...


def check_finite(value: float | torch.Tensor, what: str = "loss", epoch: int | None = None,
                 step: int | None = None, hint: str = "") -> float:
    """``float(value)``, or :class:`SearchDivergedError` when it is NaN or infinite.

    ``what`` names the quantity (e.g. ``"architecture (valid) loss"``), ``epoch``/``step`` where it
    happened; ``hint`` is appended (e.g. where the last good checkpoint is).
    """
    v = float(value.detach() if isinstance(value, torch.Tensor) else value)
    if math.isfinite(v):
        return v
    where = "".join([f" at epoch {epoch}" if epoch is not None else "",
                     f", step {step}" if step is not None else ""])
    msg = (f"search stopped: the {what} is {v}{where}; lower search.arch_lr or train.lr, or check the "
           f"data and the search space")
    raise SearchDivergedError(msg + (f"; {hint}" if hint else ""))


# --------------------------------------------------------------------------- state checks

_SCALARS = (bool, int, float, str, type(None))


def check_state(obj: Any, key: str = "state", finite: bool = True) -> None:
    """Raise if ``obj`` would not load with ``weights_only=True`` (``TypeError`` naming the key), or,
    with ``finite``, if a floating-point tensor in it holds NaN/inf (:class:`SearchDivergedError`)."""
    if isinstance(obj, torch.Tensor):
        if finite and (obj.is_floating_point() or obj.is_complex()) and obj.numel() > 0:
            if not bool(torch.isfinite(obj).all()):
                raise SearchDivergedError(f"search stopped: {key} holds NaN or inf values; the state "
                                          f"was not saved")
        return
    if isinstance(obj, _SCALARS):
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_state(v, f"{key}[{i}]", finite)
        return
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{key}: checkpoint keys must be str or int, got {type(k).__name__} {k!r}")
            check_state(v, f"{key}.{k}", finite)
        return
    raise TypeError(f"{key}: a {type(obj).__module__}.{type(obj).__name__} cannot be stored in a search "
                    f"checkpoint (it must load with torch.load(weights_only=True)); convert it to tensors, "
                    f"numbers, strings, lists or dicts")


# --------------------------------------------------------------------------- RNG streams

def capture_rng_state() -> dict:
    """The state of Python's ``random``, NumPy's global generator and torch (CPU and initialised CUDA
    devices) as tensors and plain values (safe for ``weights_only`` loading)."""
    version, internal, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": {"version": int(version), "state": torch.tensor(internal, dtype=torch.int64),
                   "gauss": gauss},
        "numpy": {"name": str(np_name), "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
                  "pos": int(np_pos), "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state((npst["name"], npst["keys"].numpy().astype(np.uint32), npst["pos"],
                         npst["has_gauss"], npst["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- files

def save_search_state(path: str | Path, state: dict, finite: bool = True) -> Path:
    """Check ``state`` (:func:`check_state`) and write it atomically (temp file + ``os.replace``).

    On any error the file at ``path`` is left as it was."""
    check_state(state, "state", finite)
    if "content_sha256" not in state:
        seal(state)
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_search_state(path: str | Path) -> dict:
    """Load a search checkpoint (``weights_only=True``, on the CPU); :class:`UserError` when missing,
    unreadable or of another format."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise UserError(f"{path}: no search checkpoint here (expected a search run directory holding "
                        f"{CHECKPOINT_NAME})")
    return load_versioned(path, CHECKPOINT_FORMAT, "search checkpoint")


class SearchCheckpointer:
    """Save the searcher after each epoch and resume from the last save.

    The file holds ``{"format", "epoch", "searcher": searcher.state_dict(), "rng":
    capture_rng_state(), "meta": {...}}``; ``epoch`` is the last *completed* epoch (0-based), so a
    resumed search starts at ``epoch + 1``.

    Args:
        run_dir: the run directory (a :class:`~darts_gnn.engine.rundir.RunDir` or a path).
        every: save every ``every`` epochs (the last epoch is saved when ``save(..., final=True)``).
        finite: refuse to save states with NaN/inf floating-point tensors (the NaN guard).

    Use::

        ckpt = SearchCheckpointer(run)
        start = ckpt.resume(searcher) if resume else 0
        for epoch in range(start, epochs):
            loss = searcher.train_epoch(epoch)
            ckpt.check(loss, "search loss", epoch)         # NaN guard
            ckpt.save(searcher, epoch)
    """

    def __init__(self, run_dir: RunDir | str | Path, every: int = 1, name: str = CHECKPOINT_NAME,
                 finite: bool = True) -> None:
        if every < 1:
            raise ValueError(f"SearchCheckpointer: every must be >= 1, got {every}")
        self.run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
        self.path = self.run.file(name)
        self.every = int(every)
        self.finite = finite
        self.last_saved_epoch: int | None = None
        #: the manifest sealed into every save (data-set fingerprint, config hash); see attach_checkpointing
        self.manifest: dict | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def _hint(self) -> str:
        if self.exists():
            epoch = "?" if self.last_saved_epoch is None else self.last_saved_epoch
            return (f"the last good checkpoint ({self.path}, epoch {epoch}) is kept; resume with "
                    f"--resume {self.run.path}")
        return "no checkpoint was written yet"

    def check(self, value: float | torch.Tensor, what: str = "loss", epoch: int | None = None,
              step: int | None = None) -> float:
        """:func:`check_finite` with a hint naming the last good checkpoint."""
        v = float(value.detach() if isinstance(value, torch.Tensor) else value)
        if math.isfinite(v):
            return v
        return check_finite(v, what, epoch, step, hint=self._hint())

    def save(self, searcher: Stateful, epoch: int, meta: dict | None = None, final: bool = False,
             extra: Mapping[str, Stateful] | None = None) -> Path | None:
        """Write the state after ``epoch`` (every ``every`` epochs, or when ``final``); returns the path
        or ``None`` when skipped. ``extra`` objects (e.g. the eigenvalue guard) are saved by name. A
        non-finite state raises :class:`SearchDivergedError` and leaves the previous file intact."""
        if not final and (epoch + 1) % self.every != 0:
            return None
        state = {"format": CHECKPOINT_FORMAT, "epoch": int(epoch), "searcher": searcher.state_dict(),
                 "extra": {k: v.state_dict() for k, v in (extra or {}).items()},
                 "rng": capture_rng_state(), "meta": dict(meta or {})}
        seal(state, self.manifest)
        try:
            save_search_state(self.path, state, self.finite)
        except SearchDivergedError as e:
            raise SearchDivergedError(f"{e} (after epoch {epoch}); {self._hint()}") from None
        self.last_saved_epoch = int(epoch)
        return self.path

    def load(self) -> dict:
        return load_search_state(self.path)

    def resume(self, searcher: Stateful, state: dict | None = None,
               extra: Mapping[str, Stateful] | None = None) -> int:
        """Load the checkpoint into ``searcher`` (and the ``extra`` objects saved under their names),
        restore the RNG streams; returns the epoch to start from (last completed epoch + 1)."""
        state = self.load() if state is None else state
        searcher.load_state_dict(state["searcher"])
        for name, obj in (extra or {}).items():
            if name in state.get("extra", {}):
                obj.load_state_dict(state["extra"][name])
        restore_rng_state(state["rng"])
        self.last_saved_epoch = int(state["epoch"])
        return int(state["epoch"]) + 1

    @contextlib.contextmanager
    def guard_errors(self):
        """Re-raise a :class:`SearchDivergedError` from the block with the last good checkpoint named."""
        try:
            yield self
        except SearchDivergedError as e:
            text = str(e)
            if "checkpoint" in text:
                raise
            raise SearchDivergedError(f"{text}; {self._hint()}") from None


# --------------------------------------------------------------------------- wiring into a Searcher

#: ``train`` keys that change the search itself (the others only affect retraining or speed).
_TRAIN_KEYS_OF_SEARCH = ("batch_size", "lr", "l2", "seed")


class CheckpointHook:
    """Searcher epoch hook that saves the searcher (and ``extra`` objects) after each epoch."""

    def __init__(self, checkpointer: SearchCheckpointer, extra: Mapping[str, Stateful] | None = None,
                 meta: dict | None = None) -> None:
        self.checkpointer = checkpointer
        self.extra = dict(extra or {})
        self.meta = dict(meta or {})

    def __call__(self, searcher, epoch: int, record: dict) -> bool:
        total = getattr(getattr(searcher, "cfg", None), "epochs", None)
        final = total is not None and epoch + 1 >= total
        self.checkpointer.save(searcher, epoch, meta=self.meta, final=final or bool(record.get("hessian/stopped")),
                               extra=self.extra)
        return False


def _search_fingerprint(cfg) -> dict:
    d = config_to_dict(cfg)
    return {"data": d["data"], "search": d["search"],
            "train": {k: d["train"][k] for k in _TRAIN_KEYS_OF_SEARCH}}


def _diff(old: Any, new: Any, key: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            out += _diff(old.get(k), new.get(k), f"{key}.{k}" if key else str(k))
        return out
    return [] if old == new else [f"{key}: {old!r} in the checkpoint, {new!r} now"]


def attach_checkpointing(searcher, run_dir: RunDir | str | Path, cfg, resume: bool = False) -> SearchCheckpointer:
    """Wire checkpoints, resume and the eigenvalue guard into a
    :class:`~darts_gnn.search.Searcher` (before ``searcher.run()``).

    Adds two epoch hooks: an :class:`~darts_gnn.search.hessian.EigenvalueGuard` (stops when
    ``search.guard.stop_factor > 0`` and the eigenvalue measured every ``search.guard.every``
    epochs rises by that factor over ``search.guard.window`` measurements) and a
    :class:`CheckpointHook` (every ``search.checkpoint.every`` epochs and at the end). With ``resume``,
    loads ``RUN_DIR/search_state.pt`` into the searcher and the guard, after checking that the data,
    search and search-relevant train settings of ``cfg`` (a :class:`~darts_gnn.config.Config`) are
    those the checkpoint was written with. Use the returned checkpointer's :meth:`guard_errors` around
    ``searcher.run()`` so that a NaN stop names the last good checkpoint.
    """
    sc = cfg.search
    guard = EigenvalueGuard(EigenvalueMonitor(sc.guard.stop_factor, sc.guard.window))
    ckpt = SearchCheckpointer(run_dir, every=sc.checkpoint.every)
    fingerprint = _search_fingerprint(cfg)
    dataset = getattr(searcher, "dataset", None)
    ckpt.manifest = make_manifest("search_state", dataset, fingerprint)
    if resume:
        state = ckpt.load()
        if dataset is not None:
            check_dataset(state, dataset, ckpt.path, "search checkpoint")
        diffs = _diff(state.get("meta", {}).get("config"), fingerprint) if "config" in state.get("meta", {}) else []
        if diffs:
            raise UserError(f"{ckpt.path}: cannot resume with other search settings ({'; '.join(diffs[:3])})")
        start = ckpt.resume(searcher, state, extra={"guard": guard})
        if getattr(searcher, "epoch", start) != start:
            searcher.epoch = start
        if guard.monitor.stopped:
            searcher.stopped_early = True
        log.info("resumed the search from %s after epoch %d", ckpt.path, start - 1)
    searcher.hooks = list(getattr(searcher, "hooks", [])) + [
        guard, CheckpointHook(ckpt, extra={"guard": guard}, meta={"config": fingerprint})]
    return ckpt
