"""The run directory: config, metrics, checkpoints, TensorBoard events and figures of one run.

Every file is written to a temporary name in the same folder and renamed into place, so a run that is
interrupted never leaves a half-written ``metrics.json`` or checkpoint behind.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

__all__ = ["RunDir", "new_run_dir", "atomic_write", "load_versioned"]


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` and rename ``tmp_path`` onto ``path`` (atomic on one file system)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_versioned(path: str | Path, fmt: int, kind: str) -> dict:
    """``torch.load`` (``weights_only=True``, on the CPU) of a dict whose ``"format"`` is ``fmt``.

    A file that cannot be read, or of another format, raises :class:`darts_gnn.errors.UserError`
    naming ``path`` and ``kind`` (e.g. ``"search checkpoint"``).
    """
    from .errors import UserError
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated or foreign file
        raise UserError(f"{path}: not a readable {kind} ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise UserError(f"{path}: not a darts-gnn {kind} of format {fmt}")
    return obj


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
        return _write_text(self.path / name, json.dumps(obj, indent=2, sort_keys=False) + "\n")

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


def new_run_dir(out: str | Path | None, name: str = "run", root: str | Path = "runs") -> RunDir:
    """``out`` when given, else a fresh ``<root>/<name>-<YYYYmmdd-HHMMSS>[-n]`` folder."""
    if out is not None:
        return RunDir(out)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}")
    return RunDir(path)
