"""Files written whole or not at all, strict JSON, and versioned ``torch.load`` with a content check.

The storage primitives every layer above uses (a feature cache, a genotype, a run directory): write to
a temporary name and rename (:func:`atomic_write`), JSON without ``NaN`` (:func:`strict_json`), and
:func:`load_versioned`, which refuses a file of another format or whose content hash does not match.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import UserError
from .manifest import verify_content

__all__ = ["atomic_write", "strict_json", "load_versioned"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def strict_json(obj: Any, indent: int | None = 2) -> str:
    """``json.dumps`` that never writes ``NaN`` / ``Infinity`` (not JSON): non-finite floats become
    ``null``."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False)


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` and rename ``tmp_path`` onto ``path`` (atomic on one file system)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; follow the umask as open() would
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
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated or foreign file
        first = " ".join(str(e).split())[:160]
        if "Weights only load failed" in first:
            first = "it holds Python objects other than tensors and plain values; refused, not executed"
        raise UserError(f"{path}: not a readable {kind} ({type(e).__name__}: {first})") from None
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise UserError(f"{path}: not a darts-gnn {kind} of format {fmt}")
    verify_content(obj, path, kind)
    return obj
