r"""Manifests and content hashes: every checkpoint says what it was made from and can be verified.

A saved payload (``model.pt``, ``search_state.pt``) is a dict that loads with
``torch.load(..., weights_only=True)``. :func:`seal` adds

* ``"manifest"``: ``{"format_version", "kind", "dataset": dataset_fingerprint(ds), "config_sha256"}``
  (:func:`make_manifest`), and
* ``"content_sha256"``: SHA-256 over every other entry (:func:`content_digest`: keys in sorted order,
  tensors as dtype, shape and raw bytes), so a flipped bit anywhere in the stored values is found.

Loading calls :func:`verify_content` (the hash) and :func:`check_dataset` (the data set the caller has
now against the manifest's fingerprint); both raise :class:`~darts_gnn.errors.UserError` naming the
file and what disagrees.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Mapping

import torch

from ..errors import UserError
from .fingerprint import dataset_fingerprint, fingerprint_diff

__all__ = ["MANIFEST_VERSION", "content_digest", "config_sha256", "make_manifest", "seal", "verify_content",
           "check_dataset"]

MANIFEST_VERSION = 1
log = logging.getLogger("darts_gnn")


def _feed(h: "hashlib._Hash", obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, Mapping):
        h.update(b"{")
        for k in sorted(obj, key=lambda k: (type(k).__name__, str(k))):
            h.update(repr(k).encode() + b":")
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[" if isinstance(obj, list) else b"(")
        for v in obj:
            _feed(h, v)
        h.update(b"]")
    else:
        h.update(f"{type(obj).__name__}:{obj!r};".encode())


def content_digest(payload: Mapping[str, Any]) -> str:
    """Hex SHA-256 of ``payload`` without its ``content_sha256`` entry."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in payload.items() if k != "content_sha256"})
    return h.hexdigest()


def config_sha256(cfg_dict: Mapping[str, Any]) -> str:
    """Hex SHA-256 of a config dict as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(cfg_dict, sort_keys=True, default=str).encode()).hexdigest()


def make_manifest(kind: str, dataset=None, cfg_dict: Mapping[str, Any] | None = None) -> dict:
    """``{"format_version", "kind", "dataset", "config_sha256"}`` for a payload of ``kind``."""
    return {"format_version": MANIFEST_VERSION, "kind": kind,
            "dataset": dataset_fingerprint(dataset) if dataset is not None else None,
            "config_sha256": config_sha256(cfg_dict) if cfg_dict is not None else None}


def seal(payload: dict, manifest: dict | None = None) -> dict:
    """Attach ``manifest`` (when given) and the content hash to ``payload`` (in place; returned)."""
    if manifest is not None:
        payload["manifest"] = manifest
    payload.pop("content_sha256", None)
    payload["content_sha256"] = content_digest(payload)
    return payload


def verify_content(payload: Mapping[str, Any], path: str | Path, kind: str) -> None:
    """Check the content hash of a loaded payload; a file without one (an older darts-gnn) is logged."""
    saved = payload.get("content_sha256")
    if saved is None:
        log.warning("%s: %s has no content hash (written by an older darts-gnn); not verified", path, kind)
        return
    if saved != content_digest(payload):
        raise UserError(f"{path}: the {kind} is corrupt (its content hash does not match what it holds); "
                        f"it cannot be used: restore it from a copy or start the run again with --overwrite")
    m = payload.get("manifest")
    if m is not None and m.get("format_version") != MANIFEST_VERSION:
        raise UserError(f"{path}: {kind} manifest version {m.get('format_version')!r}; this darts-gnn "
                        f"reads version {MANIFEST_VERSION}")


def check_dataset(payload: Mapping[str, Any], dataset, path: str | Path, kind: str) -> None:
    """Refuse ``dataset`` when it is not the data set the payload's manifest was made from."""
    saved = (payload.get("manifest") or {}).get("dataset")
    if saved is None:
        return
    diff = fingerprint_diff(saved, dataset_fingerprint(dataset))
    if diff:
        shown = "; ".join(d if not d.startswith("train_sha256") else "train_sha256: the training pairs differ"
                          for d in diff[:3])
        raise UserError(f"{path}: the {kind} was made from another data set ({shown}); check data.path in "
                        f"the run's config.yaml")
