r"""MovieLens-100K side files: ``u.item`` (movies) and ``u.user`` (demographics).

Both files are ``|``-separated. ``u.item`` is **latin-1** encoded (a few titles carry accented
letters, e.g. ``Café au Lait``); it is decoded as latin-1 on purpose, never by guessing. ``u.user``
is plain ASCII (read as latin-1 too, which is a superset).

.. code-block:: text

    u.item: movie id | title | release date | video release date | IMDb URL | 19 genre flags (0/1)
    u.user: user id | age | gender (M/F) | occupation | zip code

Item text (what the language model encodes): ``"<title>. Genres: <g1>, <g2>. Released <year>."``.
Structured features: items ``[19 genre flags, year z-score, year unknown flag]``; users
``[age z-score, gender one-hot (2), occupation one-hot]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.dataset import DataError

__all__ = ["GENRES", "MovieTable", "UserTable", "read_items", "read_users", "item_texts",
           "item_structured", "user_structured", "check_split_alignment"]

#: The 19 genres of ``u.item``, in column order (``u.genre``).
GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")

ENCODING = "latin-1"


@dataclass
class MovieTable:
    """Rows of ``u.item``: ``ids`` (MovieLens ids as strings), ``titles``, ``years`` (``-1`` when
    unknown) and ``genres`` ``[n, 19]`` 0/1."""
    ids: list[str]
    titles: list[str]
    years: np.ndarray
    genres: np.ndarray


@dataclass
class UserTable:
    """Rows of ``u.user``: ``ids``, ``ages`` ``[n]``, ``genders`` and ``occupations`` (strings)."""
    ids: list[str]
    ages: np.ndarray
    genders: list[str]
    occupations: list[str]


def _lines(path: str | Path, what: str) -> list[tuple[int, list[str]]]:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: {what} file not found")
    rows = []
    with open(p, encoding=ENCODING, newline="") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                rows.append((n, line.split("|")))
    if not rows:
        raise DataError(f"{p}: empty {what} file")
    return rows


def _check_unique(ids: list[str], lines: list[int], p: str) -> None:
    seen: dict[str, int] = {}
    for i, n in zip(ids, lines):
        if i in seen:
            raise DataError(f"{p}:{n}: id {i!r} already given on line {seen[i]}")
        seen[i] = n


def read_items(path: str | Path) -> MovieTable:
    """Parse ``u.item`` (latin-1, ``|``-separated, 24 fields); errors name ``file:line``."""
    p = str(path)
    ids, titles, years, genres, lines = [], [], [], [], []
    for n, f in _lines(path, "u.item"):
        if len(f) != 5 + len(GENRES):
            raise DataError(f"{p}:{n}: expected {5 + len(GENRES)} '|'-separated fields (id, title, dates, "
                            f"URL, 19 genre flags), got {len(f)}")
        if not f[0].strip().isdigit():
            raise DataError(f"{p}:{n}: expected a numeric movie id, got {f[0]!r}")
        flags = f[5:]
        if any(g not in ("0", "1") for g in flags):
            raise DataError(f"{p}:{n}: genre flags must be 0 or 1, got {'|'.join(flags)!r}")
        date = f[2].strip()
        year = -1
        if date:
            tail = date.rsplit("-", 1)[-1]
            if not (tail.isdigit() and len(tail) == 4):
                raise DataError(f"{p}:{n}: expected a release date like 01-Jan-1995, got {date!r}")
            year = int(tail)
        ids.append(f[0].strip())
        titles.append(f[1].strip())
        years.append(year)
        genres.append([int(g) for g in flags])
        lines.append(n)
    _check_unique(ids, lines, p)
    return MovieTable(ids, titles, np.asarray(years, np.int64), np.asarray(genres, np.float32))


def read_users(path: str | Path) -> UserTable:
    """Parse ``u.user`` (``|``-separated: id, age, gender M/F, occupation, zip)."""
    p = str(path)
    ids, ages, genders, occs, lines = [], [], [], [], []
    for n, f in _lines(path, "u.user"):
        if len(f) != 5:
            raise DataError(f"{p}:{n}: expected 5 '|'-separated fields (id, age, gender, occupation, zip), "
                            f"got {len(f)}")
        if not f[0].strip().isdigit() or not f[1].strip().isdigit():
            raise DataError(f"{p}:{n}: expected numeric user id and age, got {f[0]!r} and {f[1]!r}")
        if f[2] not in ("M", "F"):
            raise DataError(f"{p}:{n}: gender must be M or F, got {f[2]!r}")
        if not f[3].strip():
            raise DataError(f"{p}:{n}: empty occupation")
        ids.append(f[0].strip())
        ages.append(int(f[1]))
        genders.append(f[2])
        occs.append(f[3].strip())
        lines.append(n)
    _check_unique(ids, lines, p)
    return UserTable(ids, np.asarray(ages, np.float32), genders, occs)


def item_texts(table: MovieTable) -> list[str]:
    """One sentence per movie: title, genres and release year (what the text encoder reads)."""
    out = []
    for title, year, flags in zip(table.titles, table.years, table.genres):
        names = [g for g, on in zip(GENRES, flags) if on and g != "unknown"]
        text = f"{title}. Genres: {', '.join(names) if names else 'unknown'}."
        if year > 0:
            text += f" Released {year}."
        out.append(text)
    return out


def _zscore(v: np.ndarray, known: np.ndarray) -> np.ndarray:
    if not known.any():
        return np.zeros_like(v, dtype=np.float32)
    mu, sd = v[known].mean(), v[known].std()
    z = (v - mu) / (sd if sd > 0 else 1.0)
    return np.where(known, z, 0.0).astype(np.float32)


def item_structured(table: MovieTable) -> np.ndarray:
    """``[n, 21]``: the 19 genre flags, the release year as a z-score (0 when unknown) and an
    unknown-year flag."""
    known = table.years > 0
    return np.concatenate([table.genres, _zscore(table.years.astype(np.float32), known)[:, None],
                           (~known).astype(np.float32)[:, None]], axis=1)


def _one_hot(values: list[str]) -> np.ndarray:
    cats = sorted(set(values))
    idx = {c: k for k, c in enumerate(cats)}
    out = np.zeros((len(values), len(cats)), np.float32)
    out[np.arange(len(values)), [idx[v] for v in values]] = 1.0
    return out


def user_structured(table: UserTable) -> np.ndarray:
    """``[n, 1 + 2 + n_occupations]``: age z-score, gender one-hot, occupation one-hot (sorted names)."""
    age = _zscore(table.ages, np.ones(len(table.ages), bool))[:, None]
    return np.concatenate([age, _one_hot(table.genders), _one_hot(table.occupations)], axis=1)


def check_split_alignment(dataset, u_data: str | Path, id_offset: int = 1) -> None:
    """Refuse a dataset whose ids do not map to MovieLens ids as ``movielens = dataset + id_offset``.

    Every ``(user, item)`` pair of the dataset's train, valid and test splits must be a rating of
    ``u_data`` under that mapping (true for ``split-2020``, whose ids are the MovieLens ids minus 1).
    Raises :class:`DataError` naming the first pair that is not.
    """
    p = Path(u_data)
    if not p.is_file():
        raise DataError(f"{p}: u.data not found (needed to check the id alignment)")
    raw = np.loadtxt(p, dtype=np.int64, usecols=(0, 1), ndmin=2)
    rated = set(zip(raw[:, 0].tolist(), raw[:, 1].tolist()))
    for split in ("train", "valid", "test"):
        for u, i in dataset.split(split).tolist():
            if (u + id_offset, i + id_offset) not in rated:
                raise DataError(f"{p}: dataset {split} pair (user {u}, item {i}) is not a rating of user "
                                f"{u + id_offset}, movie {i + id_offset}: the ids do not map with "
                                f"id_offset={id_offset}")
