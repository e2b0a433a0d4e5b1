"""User attributes (MovieLens ``u.user``) for user profiling, mapped onto a data set's users.

``u.user`` lines are ``id|age|gender|occupation|zip``. Three categorical targets are read:
``gender`` (``F``/``M``), ``age`` (MovieLens-1M's buckets: under 18, 18-24, 25-34, 35-44, 45-49,
50-55, 56+) and ``occupation`` (its 21 names). Users of the data set without a line get label
``-1`` (left out of every probe split); lines naming users the data set does not know are dropped
(count logged). Attributes are only ever read by the probe: no model or graph sees them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .dataset import Dataset, DataError
from .text import _read_text

__all__ = ["UserAttributes", "load_user_attributes", "age_bucket", "AGE_BUCKETS", "split_users"]

log = logging.getLogger("darts_gnn.data")

_EXPECTED = "lines 'id|age|gender|occupation|zip' (MovieLens u.user)"
#: lower edges of MovieLens-1M's age buckets and their names
AGE_BUCKETS = ((0, "<18"), (18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-49"), (50, "50-55"),
               (56, "56+"))


def age_bucket(age: int) -> int:
    """Index into :data:`AGE_BUCKETS` of an age in years (the last bucket whose lower edge <= age)."""
    return max(k for k, (lo, _) in enumerate(AGE_BUCKETS) if age >= lo)


@dataclass
class UserAttributes:
    """Categorical labels per user: ``labels[name]`` int64 ``[U]`` (``-1``: unknown) indexing
    ``classes[name]`` (the class names, sorted)."""
    n_users: int
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)

    def known(self) -> np.ndarray:
        """Bool ``[U]``: users with every attribute known."""
        out = np.ones(self.n_users, dtype=bool)
        for y in self.labels.values():
            out &= y >= 0
        return out


def _id_base(ids: np.ndarray, n: int, id_base: int | str, p: str) -> int:
    if id_base in (0, 1):
        return int(id_base)
    if id_base != "auto":
        raise DataError(f"{p}: task.id_base is {id_base!r}; expected 0, 1 or auto")
    zero, top = int(ids.min()) == 0, int(ids.max()) == n
    if zero == top:
        raise DataError(f"{p}: cannot tell whether the user ids are 0- or 1-based (ids {int(ids.min())}.."
                        f"{int(ids.max())}, {n} users); set task.id_base: 0 or 1")
    base = 0 if zero else 1
    log.info("%s: user ids taken as %d-based (task.id_base auto: %s)", p, base,
             "the file has an id 0" if zero else f"the largest id is {n} = the number of users")
    return base


def _parse(path: str | Path) -> tuple[str, list[tuple[int, str, int, str, str]]]:
    text, p = _read_text(path, _EXPECTED)
    rows = []
    for k, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        f = [x.strip() for x in line.split("|")]
        if len(f) < 4 or not f[0] or not f[1].isdigit() or f[2] not in ("F", "M") or not f[3]:
            raise DataError(f"{p}:{k + 1}: found {line.strip()!r}; expected {_EXPECTED} with an integer "
                            f"age and gender F or M")
        rows.append((k + 1, f[0], int(f[1]), f[2], f[3]))
    if not rows:
        raise DataError(f"{p}: no user line; expected {_EXPECTED}")
    return p, rows


def load_user_attributes(path: str | Path, dataset: Dataset, id_base: int | str = "auto") -> UserAttributes:
    """Read ``u.user`` and map it onto ``dataset``'s users (see the module docstring).

    Ids: matched as strings against ``dataset.user_ids`` when the data set remapped its ids; else
    integers where data-set user ``k`` is file id ``k + id_base`` (``auto``: decided only when the
    file leaves no doubt, as for social files, and logged).
    """
    p, rows = _parse(path)
    n = dataset.n_users
    if dataset.user_ids is not None:
        lookup = {s: k for k, s in enumerate(dataset.user_ids)}
        idx = np.array([lookup.get(r[1], -1) for r in rows], dtype=np.int64)
    else:
        bad = next((r for r in rows if not r[1].isdigit()), None)
        if bad is not None:
            raise DataError(f"{p}:{bad[0]}: user id {bad[1]!r} is not a non-negative integer")
        ids = np.array([int(r[1]) for r in rows], dtype=np.int64)
        idx = ids - _id_base(ids, n, id_base, p)
    keep = (idx >= 0) & (idx < n)
    if not keep.all():
        log.warning("%s: dropped %d of %d lines naming users unknown to the data set", p,
                    int((~keep).sum()), len(rows))
    if not keep.any():
        raise DataError(f"{p}: no line names a user of the data set ({len(rows)} lines)")
    raw = {"gender": [r[3] for r in rows], "age": [AGE_BUCKETS[age_bucket(r[2])][1] for r in rows],
           "occupation": [r[4] for r in rows]}
    out = UserAttributes(n)
    for name, values in raw.items():
        classes = sorted(set(v for v, k in zip(values, keep) if k))
        if name == "age":
            classes = [b for _, b in AGE_BUCKETS if b in classes]
        code = {c: j for j, c in enumerate(classes)}
        y = np.full(n, -1, dtype=np.int64)
        y[idx[keep]] = [code[v] for v, k in zip(values, keep) if k]
        out.labels[name], out.classes[name] = y, classes
    return out


def split_users(known: np.ndarray, test_fraction: float, valid_fraction: float, seed: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded disjoint ``(train, valid, test)`` user ids among ``known`` (bool ``[U]``): ``test_fraction``
    of them held out, then ``valid_fraction`` of the rest; each sorted ascending."""
    users = np.flatnonzero(known)
    perm = np.random.default_rng([int(seed), 13]).permutation(users)
    n_test = int(round(test_fraction * len(users)))
    n_valid = int(round(valid_fraction * (len(users) - n_test)))
    test, valid, train = perm[:n_test], perm[n_test:n_test + n_valid], perm[n_test + n_valid:]
    if not len(train) or not len(test) or (valid_fraction > 0 and not len(valid)):
        raise DataError(f"profile: {len(users)} users with attributes are too few for a "
                        f"train/valid/test split of the probe")
    return np.sort(train), np.sort(valid), np.sort(test)
