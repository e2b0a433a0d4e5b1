"""User-user (social) edge files, mapped onto a :class:`~darts_gnn.data.dataset.Dataset`'s users."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .dataset import Dataset, DataError
from .text import _read_text, _to_ids

__all__ = ["load_social"]

log = logging.getLogger("darts_gnn.data")

_SOCIAL_EXPECTED = "lines 'user user' (two user ids separated by a tab or spaces)"


def _social_base(ids: np.ndarray, n: int, id_base: int | str | None, p: str) -> int:
    """The id base of a social file: ``0``/``1`` as given, or ``auto``: 0 when the file has an id 0,
    1 when its largest id is ``n`` (the number of users); anything else is ambiguous -> DataError."""
    lo, hi = int(ids.min()), int(ids.max())
    if id_base in (0, 1):
        log.info("%s: social ids are %d-based (data.social_base); ids range from %d to %d, %d users",
                 p, id_base, lo, hi, n)
        return int(id_base)
    if id_base not in (None, "auto"):
        raise DataError(f"{p}: data.social_base is {id_base!r}; expected 0, 1 or auto")
    zero, top = lo == 0, hi == n
    if zero == top:
        why = (f"it has both id 0 and id {n} (= the number of users)" if zero else
               f"its ids run from {lo} to {hi} and the data set has {n} users")
        raise DataError(f"{p}: cannot tell whether the user ids are 0- or 1-based ({why}); "
                        f"set data.social_base: 0 or 1")
    base = 0 if zero else 1
    log.info("%s: social ids taken as %d-based (data.social_base auto: %s)", p, base,
             "the file has an id 0" if zero else f"the largest id is {n} = the number of users")
    return base


def load_social(path: str | Path, dataset: Dataset, id_base: int | str | None = "auto") -> np.ndarray:
    """Read a user-user edge file and map it onto ``dataset``'s users; returns int64 ``[m, 2]``.

    Each line holds two user ids (extra columns, e.g. a weight, are ignored). When the data set
    remapped its ids (``dataset.user_ids`` is set) the file ids are matched against the original
    ids as strings. Otherwise they are integers, shifted by ``id_base``: user ``k`` of the data set
    is file id ``k + id_base``. ``id_base="auto"`` (or ``None``) decides only when the file leaves no
    doubt: 0 when it has an id 0, 1 when its largest id is ``n_users`` (LastFM's ``trustnetwork.txt``);
    otherwise :class:`DataError` asks for ``data.social_base``. The base used is always logged.

    Edges touching users unknown to the data set are dropped (count logged); so are self-loops and
    repeated pairs. Direction is kept; :class:`~darts_gnn.data.graph.Graph` symmetrises.
    """
    text, p = _read_text(path, _SOCIAL_EXPECTED)
    a: list[str] = []
    b: list[str] = []
    line_no: list[int] = []
    for k, line in enumerate(text.split("\n")):
        f = line.split("\t") if "\t" in line else line.split()
        f = [x.strip() for x in f]
        if not any(f):
            continue
        if len(f) < 2 or not f[0] or not f[1]:
            raise DataError(f"{p}:{k + 1}: found {line.strip()!r}; expected {_SOCIAL_EXPECTED}")
        a.append(f[0])
        b.append(f[1])
        line_no.append(k + 1)
    ln = np.asarray(line_no, dtype=np.int64)
    n = dataset.n_users
    if dataset.user_ids is not None:
        lookup = {s: k for k, s in enumerate(dataset.user_ids)}
        src = np.fromiter((lookup.get(x, -1) for x in a), dtype=np.int64, count=len(a))
        dst = np.fromiter((lookup.get(x, -1) for x in b), dtype=np.int64, count=len(b))
    else:
        ids = _to_ids(a + b, np.concatenate([ln, ln]), p, _SOCIAL_EXPECTED)
        id_base = _social_base(ids, n, id_base, p)
        src, dst = ids[: len(a)] - id_base, ids[len(a):] - id_base
    known = (src >= 0) & (src < n) & (dst >= 0) & (dst < n)
    if not known.all():
        log.warning("%s: dropped %d of %d social edges that name users unknown to the data set",
                    p, int((~known).sum()), len(known))
    pairs = np.stack([src[known], dst[known]], axis=1)
    loops = pairs[:, 0] == pairs[:, 1]
    if loops.any():
        log.info("%s: dropped %d self-loops", p, int(loops.sum()))
        pairs = pairs[~loops]
    uniq = np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)
    if len(uniq) < len(pairs):
        log.info("%s: dropped %d repeated social edges", p, len(pairs) - len(uniq))
    if not len(uniq):
        raise DataError(f"{p}: no social edge names two users of the data set "
                        f"({len(a)} lines read; ids matched as "
                        f"{'original ids' if dataset.user_ids is not None else f'0-based after subtracting {id_base}'})")
    return uniq.astype(np.int64)
