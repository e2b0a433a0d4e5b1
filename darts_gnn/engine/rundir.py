"""The run directory: config, metrics, checkpoints, TensorBoard events and figures of one run.

Every file is written to a temporary name in the same folder and renamed into place (with the mode the
umask gives), so a run that is interrupted never leaves a half-written ``metrics.json`` or checkpoint
behind. JSON is strict: NaN and infinities are written as ``null``.

:func:`open_run` makes a directory *owned* by one run: it takes an exclusive lock
(:class:`~darts_gnn.engine.runlock.LockFile`), refuses a directory that already holds a run unless asked to
``overwrite`` it (or ``resume`` it), records ``status`` (``running`` / ``done`` / ``failed`` /
``interrupted``) in ``run.json``, and removes a directory it created when the run fails before writing
anything of value.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml

from ..distributed.rundir import open_shared_run
from ..errors import classify, RunDirError
from ..store.files import atomic_write, load_versioned, strict_json
from .runlock import LOCK_NAME, LockFile

__all__ = ["RunDir", "new_run_dir", "open_run", "atomic_write", "load_versioned", "strict_json",
           "RUN_STATUS", "STATUSES"]

log = logging.getLogger("darts_gnn")

RUN_STATUS = "run.json"
STATUSES = ("running", "done", "failed", "interrupted")
#: files that hold a result: a run that wrote none of them has nothing worth keeping
VALUABLE = ("model.pt", "search_state.pt", "metrics.json", "genotype.json", "search.json", "compare.json",
            "seeds.json")


def _write_text(path: Path, text: str) -> Path:
    def w(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return atomic_write(path, w)


class RunDir:
    """A folder holding one run's outputs. ``writer()`` opens TensorBoard's ``SummaryWriter`` there."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._writer = None

    def file(self, name: str) -> Path:
        return self.path / name

    def write_text(self, name: str, text: str) -> Path:
        return _write_text(self.path / name, text)

    def write_json(self, name: str, obj: Any) -> Path:
        return _write_text(self.path / name, strict_json(obj) + "\n")

    def write_yaml(self, name: str, obj: Any) -> Path:
        return _write_text(self.path / name, yaml.safe_dump(obj, sort_keys=False))

    def save_torch(self, name: str, obj: Any) -> Path:
        return atomic_write(self.path / name, lambda tmp: torch.save(obj, tmp))

    def load_torch(self, name: str) -> Any:
        return torch.load(self.path / name, map_location="cpu", weights_only=True)

    def save_figure(self, name: str, fig) -> Path:
        """Save a matplotlib figure (PNG) atomically."""
        return atomic_write(self.path / name, lambda tmp: fig.savefig(tmp, format="png", dpi=120,
                                                                       bbox_inches="tight"))

    def writer(self):
        """TensorBoard ``SummaryWriter`` logging into this folder (created on first use)."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter
            self._writer = SummaryWriter(log_dir=str(self.path))
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"


def _fresh_path(name: str, root: str | Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}")
    return path


def new_run_dir(out: str | Path | None, name: str = "run", root: str | Path = "runs") -> RunDir:
    """``out`` when given, else a fresh ``<root>/<name>-<YYYYmmdd-HHMMSS>[-n]`` folder (no lock: the
    CLI uses :func:`open_run`)."""
    return RunDir(out if out is not None else _fresh_path(name, root))


def read_status(path: str | Path) -> dict:
    """``run.json`` of a run directory (``{}`` when absent or unreadable)."""
    try:
        d = json.loads((Path(path) / RUN_STATUS).read_text(encoding="utf-8"))
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def _entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name != LOCK_NAME)


def _check_reusable(path: Path, overwrite: bool, resume: bool) -> None:
    """Refuse a directory that holds another run (unless ``overwrite`` / ``resume``)."""
    names = _entries(path)
    if resume:
        return
    if not names:
        return
    st = read_status(path)
    is_run = bool(st) or "config.yaml" in names
    if overwrite:
        if not is_run:
            raise RunDirError(f"{path}: not empty and not a darts-gnn run directory ({len(names)} entries, "
                              f"e.g. {names[0]!r}); --overwrite only replaces run directories; choose another --out")
        return
    if "search_state.pt" in names and st.get("status") != "done":
        raise RunDirError(f"{path}: holds an unfinished search (status {st.get('status', 'unknown')}); continue "
                          f"it with 'darts-gnn search --resume {path}', or pass --overwrite to start again")
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    raise RunDirError(f"{path}: already holds {'a run (status ' + st['status'] + ')' if st.get('status') else 'files'} "
                      f"({shown}); pass --overwrite to replace it, or choose another --out")


def _clear(path: Path) -> None:
    for p in path.iterdir():
        if p.name == LOCK_NAME:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def _write_status(run: RunDir, status: str, **fields: Any) -> None:
    st = read_status(run.path)
    st.update({"status": status, "pid": os.getpid(), "updated": _dt.datetime.now().isoformat(timespec="seconds")})
    st.update({k: v for k, v in fields.items() if v is not None})
    run.write_json(RUN_STATUS, st)


def _wrote_nothing(path: Path) -> bool:
    """No result file in ``path`` nor in its sub-runs (``search --seeds`` writes ``seed<i>/``)."""
    return not any((path / n).exists() or any(path.glob(f"*/{n}")) for n in VALUABLE)


def _remove_leftovers(path: Path, created: bool) -> None:
    """A run that produced nothing of value: remove its directory (or, for a directory the user made,
    what the run put there)."""
    if created:
        shutil.rmtree(path, ignore_errors=True)
        return
    for p in path.iterdir():
        if p.name != LOCK_NAME and (p.name in (RUN_STATUS, "config.yaml", "id_map.json")
                                    or p.name.startswith("events.out.tfevents")):
            p.unlink()


def _make_dir(out: str | Path | None, name: str, root: str | Path, resume: bool) -> tuple[Path, bool]:
    """The run directory (created when missing) and whether this call created it."""
    if out is None:  # a fresh name; two runs started in the same second each get their own
        while True:
            path = _fresh_path(name, root)
            try:
                path.mkdir(parents=True)
                return path, True
            except FileExistsError:
                continue
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: exists and is not a directory; choose another --out")
    if resume and not path.is_dir():
        raise RunDirError(f"{path}: run directory not found")
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    return path, created


@contextlib.contextmanager
def open_run(out: str | Path | None, name: str = "run", root: str | Path = "runs", *, command: str = "",
             overwrite: bool = False, resume: bool = False):
    """:func:`open_run_local` on rank 0 of a data-parallel run (and in a one-process run); the other
    ranks get a private scratch directory (:func:`darts_gnn.distributed.rundir.open_shared_run`)."""
    with open_shared_run(open_run_local, RunDir, out, name, root, command=command, overwrite=overwrite,
                         resume=resume) as run:
        yield run


@contextlib.contextmanager
def open_run_local(out: str | Path | None, name: str = "run", root: str | Path = "runs", *, command: str = "",
                   overwrite: bool = False, resume: bool = False):
    """Own a run directory for the duration of a ``with`` block; yields the :class:`RunDir`.

    ``out`` (or a fresh ``<root>/<name>-<time>``) is created, locked, checked (an existing run is
    refused unless ``overwrite``, which clears it, or ``resume``) and marked ``running`` in
    ``run.json``. On leaving: ``done``; on an exception ``failed`` (``interrupted`` for
    ``KeyboardInterrupt``/SIGTERM) with the message, and a directory this call created is removed
    when none of the result files (:data:`VALUABLE`) was written. The lock is always released.
    """
    path, created = _make_dir(out, name, root, resume)
    lock = LockFile(path / LOCK_NAME)
    try:
        lock.acquire()
    except BaseException:
        if created and not _entries(path):
            shutil.rmtree(path, ignore_errors=True)
        raise
    run = RunDir(path)
    try:
        _check_reusable(path, overwrite, resume)
        if overwrite and not resume:
            _clear(path)
        started = _dt.datetime.now().isoformat(timespec="seconds")
        _write_status(run, "running", command=command, started=started, message="")
    except BaseException:
        lock.release()
        if created:
            shutil.rmtree(path, ignore_errors=True)
        raise
    try:
        yield run
    except BaseException as e:
        status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        run.close()
        if _wrote_nothing(path) and not resume:
            _remove_leftovers(path, created)
        else:
            with contextlib.suppress(OSError):
                _write_status(run, status, message=classify(e)[1])
        raise
    else:
        run.close()
        _write_status(run, "done", message="")
    finally:
        run.close()
        lock.release()
