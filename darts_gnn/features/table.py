r"""Feature tables keyed by original ids, files that hold them, and their alignment to a dataset.

A :class:`FeatureTable` is ``ids`` (original item or user ids, strings, unique) and ``x`` ``[n, d_f]``
float32. :func:`align` turns it into the ``[n_nodes, d_f]`` tensor whose row ``k`` belongs to the
dataset's node ``k``; a dataset id missing from the table raises (or is filled, when asked),
never silently misaligned.

Files (:func:`read_table`), for embeddings computed elsewhere by any large model:

* ``.npy``: the matrix ``[n, d]``; ids in ``<file>.ids.txt`` beside it, one per line (required);
* ``.npz``: arrays ``ids`` ``[n]`` and ``x`` ``[n, d]``;
* ``.csv`` / ``.tsv``: header line, first column the id, the other columns the values;
* ``.parquet``: an ``id`` column and either one list column ``embedding`` or numeric columns
  (needs ``pyarrow``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import DataError

__all__ = ["FeatureTable", "read_table", "align", "dataset_ids", "MISSING_POLICIES"]

MISSING_POLICIES = ("error", "zero", "mean")


@dataclass
class FeatureTable:
    """Features keyed by original id: ``ids`` ``list[str]`` (unique), ``x`` ``[n, d_f]`` float32,
    ``source`` names where it came from (for messages)."""
    ids: list[str]
    x: np.ndarray
    source: str = "<memory>"

    def __post_init__(self) -> None:
        self.ids = [str(i) for i in self.ids]
        self.x = np.asarray(self.x, dtype=np.float32)
        if self.x.ndim != 2:
            raise DataError(f"{self.source}: expected a feature matrix [n, d], got shape {self.x.shape}")
        if len(self.x) == 0:
            raise DataError(f"{self.source}: the feature table has no rows")
        if len(self.ids) != len(self.x):
            raise DataError(f"{self.source}: {len(self.ids)} ids but {len(self.x)} feature rows")
        seen: dict[str, int] = {}
        for k, i in enumerate(self.ids):
            if i in seen:
                raise DataError(f"{self.source}: id {i!r} appears twice (rows {seen[i] + 1} and {k + 1})")
            seen[i] = k
        bad = ~np.isfinite(self.x).all(axis=1)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DataError(f"{self.source}: row {k + 1} (id {self.ids[k]!r}) holds NaN or infinite values")

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])


def _read_csv(p: Path) -> FeatureTable:
    delim = "\t" if p.suffix == ".tsv" else ","
    with open(p, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split(delim)
        if len(header) < 2:
            raise DataError(f"{p}:1: expected a header with an id column and at least one value column")
        ids, rows = [], []
        for n, line in enumerate(f, 2):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split(delim)
            if len(parts) != len(header):
                raise DataError(f"{p}:{n}: expected {len(header)} fields like the header, got {len(parts)}")
            try:
                rows.append([float(v) for v in parts[1:]])
            except ValueError:
                raise DataError(f"{p}:{n}: expected numbers after the id, got {parts[1:]!r}") from None
            ids.append(parts[0].strip())
    if not rows:
        raise DataError(f"{p}: no feature rows after the header")
    x = np.asarray(rows, np.float32)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise DataError(f"{p}:{int(np.flatnonzero(bad)[0]) + 2}: NaN or infinite feature value")
    return FeatureTable(ids, x, str(p))


def _read_parquet(p: Path) -> FeatureTable:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{p}: reading .parquet needs pyarrow (pip install pyarrow), or save the "
                        f"matrix as .npz / .csv") from None
    t = pq.read_table(p)
    if "id" not in t.column_names:
        raise DataError(f"{p}: expected an 'id' column, got {t.column_names}")
    ids = [str(v) for v in t.column("id").to_pylist()]
    rest = [c for c in t.column_names if c != "id"]
    if rest == ["embedding"]:
        x = np.asarray(t.column("embedding").to_pylist(), dtype=np.float32)
    else:
        x = np.stack([np.asarray(t.column(c).to_pylist(), dtype=np.float32) for c in rest], axis=1)
    return FeatureTable(ids, x, str(p))


def read_table(path: str | Path) -> FeatureTable:
    """Read a feature file (see the module docstring for the layouts); errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: feature file not found")
    if p.suffix == ".npy":
        ids_file = p.with_name(p.name + ".ids.txt")
        if not ids_file.is_file():
            raise DataError(f"{p}: a .npy matrix needs its ids in {ids_file.name} beside it (one per line), "
                            f"or use .npz with arrays 'ids' and 'x'")
        ids = [l.strip() for l in ids_file.read_text(encoding="utf-8").splitlines() if l.strip()]
        return FeatureTable(ids, np.load(p, allow_pickle=False), str(p))
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            if "ids" not in z or "x" not in z:
                raise DataError(f"{p}: expected arrays 'ids' and 'x', got {sorted(z.files)}")
            return FeatureTable([str(i) for i in z["ids"].tolist()], z["x"], str(p))
    if p.suffix in (".csv", ".tsv"):
        return _read_csv(p)
    if p.suffix == ".parquet":
        return _read_parquet(p)
    raise DataError(f"{p}: unknown feature file type {p.suffix!r}; expected .npy, .npz, .csv, .tsv or .parquet")


def dataset_ids(dataset, kind: str, id_offset: int = 0) -> list[str]:
    """Original ids of the dataset's ``kind`` (``"item"`` or ``"user"``) nodes, in node order: the
    kept file ids when the loader remapped them, else ``str(k + id_offset)``."""
    if kind not in ("item", "user"):
        raise ValueError(f"kind must be 'item' or 'user', got {kind!r}")
    kept = dataset.item_ids if kind == "item" else dataset.user_ids
    n = dataset.n_items if kind == "item" else dataset.n_users
    if kept is not None:
        if id_offset:
            raise DataError(f"features.id_offset={id_offset}: the dataset kept its original {kind} ids, "
                            f"so no offset applies; set it to 0")
        return [str(i) for i in kept]
    return [str(k + id_offset) for k in range(n)]


def align(table: FeatureTable, ids: list[str], missing: str = "error", what: str = "node") -> torch.Tensor:
    """Rows of ``table`` in the order of ``ids`` -> float32 ``[len(ids), d_f]``.

    ``missing``: ``error`` (raise naming the first missing ids and how many), ``zero`` (zero rows) or
    ``mean`` (the mean row of the table). Table rows with ids outside ``ids`` are ignored.
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing: expected one of {', '.join(MISSING_POLICIES)}, got {missing!r}")
    index = {i: k for k, i in enumerate(table.ids)}
    rows = np.array([index.get(str(i), -1) for i in ids], dtype=np.int64)
    absent = rows < 0
    if absent.any():
        lost = [ids[k] for k in np.flatnonzero(absent)[:5]]
        if missing == "error":
            raise DataError(f"{table.source}: {int(absent.sum())} of {len(ids)} {what} ids have no feature "
                            f"row (first: {', '.join(map(repr, lost))}); fix the file or set "
                            f"features.missing to zero or mean")
    out = table.x[np.where(absent, 0, rows)].copy()
    if absent.any():
        out[absent] = 0.0 if missing == "zero" else table.x.mean(axis=0)
    return torch.from_numpy(out)
