r"""Content fingerprints: what a checkpoint, a run directory or a serving bundle was made from.

A fingerprint is a small JSON-able dict that two runs can compare to tell whether they saw the same
data. :func:`dataset_fingerprint` hashes the *training pairs* (the only data a model's weights depend
on) together with the counts of every split, so that a model can refuse data it was not trained on.

.. code-block:: python

    fp = dataset_fingerprint(ds)   # {"n_users": U, "n_items": I, "train": n, "valid": n, "test": n,
                                    #  "train_sha256": "…"}
    diff = fingerprint_diff(saved, fp)   # [] when they agree, else one "key: saved -> now" per field
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["dataset_fingerprint", "fingerprint_diff", "sha256_file", "sha256_bytes"]


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in ``chunk``-byte pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def dataset_fingerprint(dataset) -> dict[str, Any]:
    """``{"name", "n_users", "n_items", "train", "valid", "test", "train_sha256"}`` of a
    :class:`~darts_gnn.data.Dataset`. The hash covers the sorted training ``(user, item)`` pairs as
    little-endian int64, so it does not depend on file order."""
    train = np.asarray(dataset.train, dtype="<i8").reshape(-1, 2)
    order = np.lexsort((train[:, 1], train[:, 0])) if len(train) else np.zeros(0, dtype=np.int64)
    return {
        "name": str(dataset.name),
        "n_users": int(dataset.n_users),
        "n_items": int(dataset.n_items),
        "train": int(len(dataset.train)),
        "valid": int(len(dataset.valid)),
        "test": int(len(dataset.test)),
        "train_sha256": sha256_bytes(np.ascontiguousarray(train[order]).tobytes()),
    }


def fingerprint_diff(saved: Mapping[str, Any], current: Mapping[str, Any],
                     ignore: tuple[str, ...] = ("name",)) -> list[str]:
    """The fields on which two fingerprints disagree, as ``"key: saved -> current"`` strings
    (fields in ``ignore`` are not compared; a field missing on one side counts as a difference)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        if key in ignore:
            continue
        a, b = saved.get(key, "<missing>"), current.get(key, "<missing>")
        if a != b:
            out.append(f"{key}: {a} -> {b}")
    return out
