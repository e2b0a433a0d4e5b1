r"""The serving bundle: everything needed to recommend, in one folder, without the training data.

A bundle is written by :func:`export_bundle` (``darts-gnn export RUN_DIR --out MODEL_DIR``) and read by
:func:`load_bundle`. Its files:

==================  ==========================================================================
``manifest.json``   format, darts-gnn version, model name, genotype, config, dimensions, the data
                    set fingerprint (:func:`darts_gnn.store.fingerprint.dataset_fingerprint`), the splits
                    whose items count as seen, and the SHA-256 of every other file
``tables.pt``       ``user_emb`` ``[U, d]`` and ``item_emb`` ``[I, d]`` float32 (final embeddings,
                    after propagation: a genotype's network runs once, at export), the seen-items
                    CSR ``seen_rowptr`` ``[U+1]`` / ``seen_items`` ``[n]``, ``user_train`` ``[U]``
                    (training interactions per user) and ``popularity`` ``[I]`` (per item)
``ids.json``        original user and item ids (strings), position = internal index
``explain.pt``      (optional) the weights and the training graph's CSR (``rowptr`` ``[N+1]``,
                    ``col`` ``[E]``), read only when an explanation is asked for
==================  ==========================================================================

The score of user ``u`` for item ``i`` is :math:`\langle e_u, e_i\rangle` with the stored tables.
Every ``.pt`` file loads with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..store.fingerprint import dataset_fingerprint, sha256_file
from ..nn.base import eval_embeddings
from ..version import __version__

__all__ = ["Bundle", "BUNDLE_FORMAT", "build_bundle", "export_bundle", "load_bundle"]

#: Version of the bundle layout; :func:`load_bundle` refuses other versions.
BUNDLE_FORMAT = 1
_TABLE_KEYS = ("user_emb", "item_emb", "seen_rowptr", "seen_items", "user_train", "popularity")


@dataclass
class Bundle:
    """A serving bundle in memory (see the module docstring for the meaning of each field)."""
    user_emb: torch.Tensor
    item_emb: torch.Tensor
    seen_rowptr: torch.Tensor
    seen_items: torch.Tensor
    user_train: torch.Tensor
    popularity: torch.Tensor
    user_ids: list[str]
    item_ids: list[str]
    manifest: dict[str, Any]
    explain: dict[str, Any] | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def n_users(self) -> int:
        return int(self.user_emb.size(0))

    @property
    def n_items(self) -> int:
        return int(self.item_emb.size(0))

    def check(self, where: str = "bundle") -> None:
        """Raise :class:`~darts_gnn.errors.UserError` naming ``where`` if the fields disagree."""
        U, I = self.n_users, self.n_items
        d = self.user_emb.size(1) if self.user_emb.dim() == 2 else -1
        problems = []
        if self.user_emb.dim() != 2 or self.item_emb.dim() != 2 or self.item_emb.size(1) != d:
            problems.append(f"embeddings of shapes {tuple(self.user_emb.shape)} and "
                            f"{tuple(self.item_emb.shape)}, expected [U, d] and [I, d]")
        elif not (torch.isfinite(self.user_emb).all() and torch.isfinite(self.item_emb).all()):
            problems.append("embeddings hold NaN or infinite values")
        rp, items = self.seen_rowptr, self.seen_items
        if rp.numel() != U + 1 or int(rp[0]) != 0 or int(rp[-1]) != items.numel() or bool((rp[1:] < rp[:-1]).any()):
            problems.append(f"seen_rowptr is not a row pointer over {U} users and {items.numel()} items")
        elif items.numel() and (int(items.min()) < 0 or int(items.max()) >= I):
            problems.append(f"seen_items outside [0, {I})")
        if self.user_train.numel() != U or self.popularity.numel() != I:
            problems.append(f"user_train / popularity of sizes {self.user_train.numel()} / "
                            f"{self.popularity.numel()}, expected {U} / {I}")
        if len(self.user_ids) != U or len(self.item_ids) != I:
            problems.append(f"{len(self.user_ids)} user ids / {len(self.item_ids)} item ids for {U} users / {I} items")
        elif len(set(self.user_ids)) != U or len(set(self.item_ids)) != I:
            problems.append("the id lists hold duplicates")
        if problems:
            raise UserError(f"{where}: {problems[0]}")

    def tables(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, k).contiguous() for k in _TABLE_KEYS}


def _ids(ids: list | None, n: int) -> list[str]:
    return [str(i) for i in range(n)] if ids is None else [str(i) for i in ids]


def _counts(pairs, col: int, n: int) -> torch.Tensor:
    return torch.bincount(torch.as_tensor(pairs[:, col], dtype=torch.int64), minlength=n)


@torch.no_grad()
def build_bundle(model, dataset, graph=None, config: dict | None = None, genotype=None,
                 seen_splits: tuple[str, ...] = ("train", "valid", "test"), explain: bool = True,
                 source: str | None = None) -> Bundle:
    """The :class:`Bundle` of a trained ``model`` (a :class:`~darts_gnn.nn.Recommender`) on ``dataset``.

    ``model.embeddings()`` runs once, in eval mode. Items of ``seen_splits`` are never served to the
    user (the default masks everything the user is known to have interacted with). With
    ``explain=True`` and a ``graph`` (the training graph), the weights and the graph's CSR are kept
    for :mod:`darts_gnn.serve.explain`.
    """
    bad = [s for s in seen_splits if s not in ("train", "valid", "test")]
    if bad or not seen_splits:
        raise UserError(f"seen splits: expected a non-empty subset of train, valid, test; got {list(seen_splits)}")
    u, i = eval_embeddings(model)
    rowptr, items = dataset.user_items(*seen_splits)
    manifest = {
        "format": BUNDLE_FORMAT,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {"name": "genotype" if genotype is not None
                  else (config or {}).get("model", {}).get("name", type(model).__name__.lower()),
                  "class": type(model).__name__,
                  "genotype": genotype.to_dict() if genotype is not None else None,
                  "n_users": int(dataset.n_users), "n_items": int(dataset.n_items), "dim": int(u.size(1))},
        "config": config,
        "dataset": dataset_fingerprint(dataset),
        "seen_splits": list(seen_splits),
        "source": source,
    }
    payload = None
    if explain and graph is not None:
        payload = {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                   "rowptr": graph.rowptr.cpu(), "col": graph.col.cpu()}
    b = Bundle(u.detach().float().cpu().contiguous(), i.detach().float().cpu().contiguous(), rowptr, items,
               _counts(dataset.train, 0, dataset.n_users), _counts(dataset.train, 1, dataset.n_items),
               _ids(dataset.user_ids, dataset.n_users), _ids(dataset.item_ids, dataset.n_items), manifest, payload)
    b.check("export")
    return b


def _write_folder(b: Bundle, folder: Path) -> None:
    torch.save(b.tables(), folder / "tables.pt")
    (folder / "ids.json").write_text(json.dumps({"users": b.user_ids, "items": b.item_ids}), encoding="utf-8")
    names = ["tables.pt", "ids.json"]
    if b.explain is not None:
        torch.save({"format": BUNDLE_FORMAT, **b.explain}, folder / "explain.pt")
        names.append("explain.pt")
    manifest = dict(b.manifest, darts_gnn_version=__version__,
                    files={n: sha256_file(folder / n) for n in names})
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    b.manifest = manifest


def export_bundle(bundle: Bundle, out: str | Path, force: bool = False) -> Path:
    """Write ``bundle`` to the folder ``out``: first to a temporary sibling folder, then renamed into
    place, so ``out`` never holds a half-written bundle. An existing ``out`` is replaced only with
    ``force=True``."""
    out = Path(out)
    if out.exists() and not force:
        raise UserError(f"{out}: already exists; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        _write_folder(bundle, tmp)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "bundle")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    bundle.path = out
    return out


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise UserError(f"{path}: {what} not found (is this a folder written by darts-gnn export?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None


def _load_pt(path: Path) -> dict:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{path}: not a readable tensor file ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: expected a dict of tensors")
    return obj


def load_bundle(path: str | Path, verify: bool = True) -> Bundle:
    """Read a bundle folder written by :func:`export_bundle`. With ``verify``, every file's SHA-256 is
    checked against the manifest. ``explain.pt`` is loaded too when present (weights and graph)."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: model folder not found (write one with darts-gnn export RUN_DIR --out {path})")
    manifest = _read_json(path / "manifest.json", "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise UserError(f"{path / 'manifest.json'}: bundle format {got!r}; this darts-gnn reads format {BUNDLE_FORMAT}")
    files = manifest.get("files") or {}
    for name in ("tables.pt", "ids.json"):
        if name not in files:
            raise UserError(f"{path / 'manifest.json'}: files.{name} missing")
    if verify:
        for name, digest in files.items():
            f = path / name
            if not f.is_file():
                raise UserError(f"{f}: listed in the manifest but missing")
            if sha256_file(f) != digest:
                raise UserError(f"{f}: SHA-256 differs from the manifest (file changed or truncated)")
    tables = _load_pt(path / "tables.pt")
    missing = [k for k in _TABLE_KEYS if not isinstance(tables.get(k), torch.Tensor)]
    if missing:
        raise UserError(f"{path / 'tables.pt'}: missing tensor(s) {missing}")
    ids = _read_json(path / "ids.json", "ids.json")
    if not isinstance(ids, dict) or not isinstance(ids.get("users"), list) or not isinstance(ids.get("items"), list):
        raise UserError(f"{path / 'ids.json'}: expected an object with lists 'users' and 'items'")
    explain = _load_pt(path / "explain.pt") if "explain.pt" in files else None
    b = Bundle(**{k: tables[k] for k in _TABLE_KEYS}, user_ids=[str(x) for x in ids["users"]],
               item_ids=[str(x) for x in ids["items"]], manifest=manifest, explain=explain, path=path)
    b.check(str(path))
    return b
