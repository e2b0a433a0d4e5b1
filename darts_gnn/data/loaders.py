"""Readers for interaction files: LightGCN line format, MovieLens ``u.data``, CSV/TSV, social edges.

Every reader returns an :class:`Interactions` record (parallel arrays, one entry per interaction)
and raises :class:`~darts_gnn.data.dataset.DataError` with ``file:line`` and what was expected when
the input is bad. Splitting and assembling a :class:`~darts_gnn.data.dataset.Dataset` happen in
:mod:`darts_gnn.data.build`.

Parsing is vectorised where it matters: a file is read whole, checked with one regular expression,
split per line with :meth:`str.split` and converted with one ``numpy`` call per column.
"""
from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dataset import DataError
from .social import load_social  # noqa: F401  (re-exported: part of this module's API)
from .text import _bad_char_message, _read_text, _to_floats, _to_ids, _to_times

__all__ = [
    "Interactions", "read_lightgcn", "load_movielens", "load_csv", "load_social", "drop_duplicates",
]

log = logging.getLogger("darts_gnn.data")

_NOT_DIGIT_OR_SPACE = re.compile(r"[^0-9 \t\r\n]")


@dataclass
class Interactions:
    """Interactions read from one file, as parallel arrays of length ``n``.

    * ``users``, ``items``: int64 ``[n]``, 0-based (remapped when ``user_ids`` / ``item_ids`` are set)
    * ``lines``: int64 ``[n]``, the 1-based line of the file each interaction came from
    * ``ratings``: float64 ``[n]`` or ``None``; ``times``: float64 ``[n]`` (seconds) or ``None``
    * ``n_users`` / ``n_items``: size of the id space (may exceed the ids present: a LightGCN line
      with a user id and no items still counts the user)
    * ``user_ids`` / ``item_ids``: original ids as strings, ``user_ids[k]`` is the file id of user
      ``k``; ``None`` when the file ids are used as they are
    """

    path: str
    users: np.ndarray
    items: np.ndarray
    lines: np.ndarray
    n_users: int
    n_items: int
    ratings: np.ndarray | None = None
    times: np.ndarray | None = None
    user_ids: list[str] | None = None
    item_ids: list[str] | None = None

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def pairs(self) -> np.ndarray:
        """``(user, item)`` pairs, int64 ``[n, 2]``."""
        return np.stack([self.users, self.items], axis=1)

    def select(self, mask: np.ndarray) -> "Interactions":
        """A copy keeping the entries where ``mask`` (bool ``[n]`` or an index array) selects."""
        def sub(a):
            return None if a is None else a[mask]
        return Interactions(self.path, self.users[mask], self.items[mask], self.lines[mask],
                            self.n_users, self.n_items, sub(self.ratings), sub(self.times),
                            self.user_ids, self.item_ids)



def drop_duplicates(inter: Interactions, policy: str, *, against: Interactions | None = None,
                    what: str = "interactions") -> Interactions:
    """Apply the duplicate-pair policy.

    A pair ``(user, item)`` repeated in ``inter`` (or already present in ``against``, e.g. a test
    pair that is also in the training file) is a duplicate. ``policy='drop'`` keeps the first
    occurrence and logs the count on the ``darts_gnn.data`` logger; ``policy='error'`` raises
    :class:`DataError` naming the file and line of the first duplicate and of the pair it repeats.
    """
    if policy not in ("drop", "error"):
        raise ValueError(f"duplicates policy {policy!r}; expected 'drop' or 'error'")
    n_items = max(inter.n_items, against.n_items if against is not None else 0, 1)
    key = inter.users * n_items + inter.items
    keep = np.zeros(len(inter), dtype=bool)
    _, first = np.unique(key, return_index=True)
    keep[first] = True
    clash_other = np.zeros(len(inter), dtype=bool)
    if against is not None and len(against):
        other = np.sort(against.users * n_items + against.items)
        pos = np.searchsorted(other, key).clip(max=len(other) - 1)
        clash_other = other[pos] == key
        keep &= ~clash_other
    n_dup = int(len(inter) - keep.sum())
    if n_dup == 0:
        return inter
    if policy == "error":
        k = int(np.flatnonzero(~keep)[0])
        u, i = int(inter.users[k]), int(inter.items[k])
        uid = inter.user_ids[u] if inter.user_ids else u
        iid = inter.item_ids[i] if inter.item_ids else i
        if clash_other[k]:
            j = int(np.flatnonzero((against.users == u) & (against.items == i))[0])
            where = f"{against.path}:{int(against.lines[j])}"
        else:
            j = int(np.flatnonzero(key == key[k])[0])
            where = f"line {int(inter.lines[j])}"
        raise DataError(f"{inter.path}:{int(inter.lines[k])}: duplicate pair (user {uid}, item {iid}), "
                        f"already at {where}; set data.duplicates: drop to keep only the first")
    log.info("%s: dropped %d duplicate (user, item) pairs from %s (kept the first occurrence)",
             inter.path, n_dup, what)
    return inter.select(keep)


# --------------------------------------------------------------------------- LightGCN line format

_LIGHTGCN_EXPECTED = "lines 'user item item ...' of non-negative integer ids separated by spaces"


def _warn_repeated_users(line_users: np.ndarray, line_no: np.ndarray, p: str) -> None:
    """The LightGCN format lists each user on one line. Repeated users are read (their pairs are
    merged; repeated pairs go to :func:`drop_duplicates`) but never silently: a MovieLens or CSV file
    read as LightGCN would turn its ratings and timestamps into items, so the count is a WARNING."""
    order = np.argsort(line_users, kind="stable")
    repeat = np.flatnonzero(line_users[order][1:] == line_users[order][:-1])
    if len(repeat):
        first, again = int(line_no[order][repeat[0]]), int(line_no[order][repeat[0] + 1])
        log.warning("%s: %d of %d lines repeat a user listed earlier (first: user %d at lines %d and %d); the "
                    "LightGCN format has one line per user 'user item item ...'; for one interaction per line "
                    "set data.source: movielens or csv", p, len(repeat), len(line_users),
                    int(line_users[order][repeat[0]]), first, again)


def read_lightgcn(path: str | Path) -> Interactions:
    """Read one LightGCN-format file: one line per user, ``user item item ...``, space separated.

    Ids are used as they are (0-based, no remapping); ``n_users`` / ``n_items`` are ``max id + 1``.
    A line holding only a user id is a user with no items in this file; blank lines are skipped.
    Duplicate pairs are kept here; see :func:`drop_duplicates`.
    """
    text, p = _read_text(path, _LIGHTGCN_EXPECTED)
    bad = _NOT_DIGIT_OR_SPACE.search(text)
    if bad:
        raise DataError(_bad_char_message(p, text, bad.start(), _LIGHTGCN_EXPECTED))
    tokens: list[str] = []
    counts: list[int] = []
    line_no: list[int] = []
    for k, line in enumerate(text.split("\n")):
        toks = line.split()
        if toks:
            tokens.extend(toks)
            counts.append(len(toks))
            line_no.append(k + 1)
    cnt = np.asarray(counts, dtype=np.int64)
    tok_lines = np.repeat(np.asarray(line_no, dtype=np.int64), cnt)
    ids = _to_ids(tokens, tok_lines, p, _LIGHTGCN_EXPECTED)
    starts = np.zeros(len(cnt), dtype=np.int64)
    np.cumsum(cnt[:-1], out=starts[1:])
    line_users = ids[starts]
    _warn_repeated_users(line_users, np.asarray(line_no, dtype=np.int64), p)
    is_item = np.ones(len(ids), dtype=bool)
    is_item[starts] = False
    users = np.repeat(line_users, cnt - 1)
    items = ids[is_item]
    lines = tok_lines[is_item]
    n_users = int(line_users.max()) + 1
    n_items = int(items.max()) + 1 if len(items) else 0
    return Interactions(p, users, items, lines, n_users, n_items)


# --------------------------------------------------------------------------- MovieLens

_ML_EXPECTED = "'user item rating timestamp' separated by tabs (MovieLens u.data)"


def _remap(raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """0-based contiguous ids in increasing order of the raw ids, and the raw ids as strings."""
    uniq, inv = np.unique(raw, return_inverse=True)
    return inv.astype(np.int64).reshape(-1), [str(x) for x in uniq.tolist()]


def load_movielens(path: str | Path, min_rating: float | None = None) -> Interactions:
    """Read MovieLens ``u.data``: ``user item rating timestamp`` per line, tab separated
    (``::`` as in ``ratings.dat`` of ML-1M/10M is accepted too).

    All ratings count as implicit interactions unless ``min_rating`` is given, in which case only
    ratings ``>= min_rating`` are kept. User and item ids are remapped to 0-based contiguous ids in
    increasing numeric order, after filtering; the original ids are kept in ``user_ids`` /
    ``item_ids``. ``times`` holds the timestamps (for the temporal split).
    """
    text, p = _read_text(path, _ML_EXPECTED)
    lines = text.split("\n")
    sep = "::" if "::" in lines[0] else None
    cols: list[list[str]] = [[], [], [], []]
    line_no: list[int] = []
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        f = [x.strip() for x in line.split(sep)] if sep else line.split()
        if len(f) != 4:
            raise DataError(f"{p}:{k + 1}: found {len(f)} fields; expected 4, {_ML_EXPECTED}")
        for c in range(4):
            cols[c].append(f[c])
        line_no.append(k + 1)
    ln = np.asarray(line_no, dtype=np.int64)
    users = _to_ids(cols[0], ln, p, "a non-negative integer user id, " + _ML_EXPECTED)
    items = _to_ids(cols[1], ln, p, "a non-negative integer item id, " + _ML_EXPECTED)
    ratings = _to_floats(cols[2], ln, p, "rating")
    times = _to_times(cols[3], ln, p, "timestamp")
    return _finish_table(p, users, items, ln, ratings, times, min_rating, numeric_ids=True)


def _finish_table(p: str, users, items, ln, ratings, times, min_rating, numeric_ids: bool) -> Interactions:
    if min_rating is not None:
        if ratings is None:
            raise DataError(f"{p}: data.min_rating is set but there is no rating column "
                            f"(set data.rating_col to the rating column's header name)")
        keep = ratings >= min_rating
        log.info("%s: kept %d of %d interactions with rating >= %g", p, int(keep.sum()), len(keep),
                 min_rating)
        if not keep.any():
            raise DataError(f"{p}: no rating is >= data.min_rating={min_rating:g} "
                            f"(ratings range from {ratings.min():g} to {ratings.max():g})")
        users, items, ln = users[keep], items[keep], ln[keep]
        ratings = ratings[keep]
        times = None if times is None else times[keep]
    if numeric_ids:
        u, user_ids = _remap(users)
        i, item_ids = _remap(items)
    else:
        u, user_ids = _remap_first_seen(users)
        i, item_ids = _remap_first_seen(items)
    return Interactions(p, u, i, ln, len(user_ids), len(item_ids), ratings, times, user_ids, item_ids)


def _remap_first_seen(raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """0-based ids in order of first appearance in the file, and the raw (string) ids."""
    uniq, first, inv = np.unique(raw, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")          # k-th new id = order[k]-th sorted unique
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    return rank[inv.reshape(-1)], [str(x) for x in uniq[order].tolist()]


# --------------------------------------------------------------------------- CSV / TSV

_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
                    "space": " "}


def _sniff_delimiter(header: str, p: str) -> str:
    counts = {d: header.count(d) for d in ("\t", ",", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        if len(header.split()) > 1:
            return " "
        raise DataError(f"{p}:1: cannot tell the delimiter from the header {header.strip()!r}; "
                        f"expected at least a user and an item column (or set data.delimiter)")
    return best


def load_csv(path: str | Path, user_col: str = "user", item_col: str = "item",
             rating_col: str | None = None, time_col: str | None = None,
             delimiter: str | None = None, min_rating: float | None = None) -> Interactions:
    """Read a CSV/TSV file whose first line is a header naming the columns.

    ``user_col`` / ``item_col`` (and optionally ``rating_col`` / ``time_col``) are header names.
    Ids are arbitrary strings (surrounding spaces stripped), remapped to 0-based contiguous ids in
    order of first appearance; ``user_ids`` / ``item_ids`` keep the originals. ``delimiter`` is
    sniffed from the header (tab, comma, semicolon, pipe, else spaces) when not given; ``"tab"`` and
    ``"\\t"`` mean a tab. Ratings must be finite numbers (``NaN`` or empty -> DataError); timestamps
    are numbers or ISO 8601 dates. ``min_rating`` keeps ratings ``>= min_rating``.
    """
    text, p = _read_text(path, "a CSV/TSV file with a header line")
    header_line = text.split("\n", 1)[0]
    if delimiter is None:
        delim = _sniff_delimiter(header_line, p)
    else:
        delim = _DELIMITER_NAMES.get(delimiter, delimiter)
    wanted = {"data.user_col": user_col, "data.item_col": item_col}
    if rating_col:
        wanted["data.rating_col"] = rating_col
    if time_col:
        wanted["data.time_col"] = time_col
    if delim != " " and len(delim) != 1:
        raise DataError(f"{p}: data.delimiter must be one character (or 'tab'), got {delimiter!r}")
    rows = _csv_rows(text, delim, p)
    header = [h.strip() for h in next(rows)[1]]
    index = {}
    for key, name in wanted.items():
        if name not in header:
            raise DataError(f"{p}:1: no column named {name!r} ({key}); the header has "
                            f"{', '.join(repr(h) for h in header)} (delimiter {delim!r})")
        index[key] = header.index(name)
    ncol = len(header)
    cols: dict[str, list[str]] = {k: [] for k in wanted}
    line_no: list[int] = []
    for line, row in rows:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != ncol:
            raise DataError(f"{p}:{line}: found {len(row)} fields; expected {ncol} as in the header "
                            f"(delimiter {delim!r})")
        for key, c in index.items():
            cols[key].append(row[c].strip())
        line_no.append(line)
    if not line_no:
        raise DataError(f"{p}: no data rows after the header (expected one interaction per line)")
    ln = np.asarray(line_no, dtype=np.int64)
    for key in ("data.user_col", "data.item_col"):
        empty = [k for k, v in enumerate(cols[key]) if not v]
        if empty:
            raise DataError(f"{p}:{int(ln[empty[0]])}: empty {wanted[key]!r} ({key}); expected an id")
    users = np.asarray(cols["data.user_col"], dtype=object)
    items = np.asarray(cols["data.item_col"], dtype=object)
    ratings = _to_floats(cols["data.rating_col"], ln, p, repr(rating_col)) if rating_col else None
    times = _to_times(cols["data.time_col"], ln, p, repr(time_col)) if time_col else None
    return _finish_table(p, users.astype(str), items.astype(str), ln, ratings, times, min_rating,
                         numeric_ids=False)


def _csv_rows(text: str, delim: str, p: str):
    """``(line, fields)`` per record; a record that spans lines (an unterminated quote) or any error of
    the ``csv`` module -> DataError with the line where the record starts."""
    if delim == " ":
        for k, line in enumerate(text.split("\n")):
            yield k + 1, line.split()
        return
    reader = csv.reader(io.StringIO(text), delimiter=delim, strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise DataError(f"{p}:{start}: malformed CSV record ({e}); expected fields separated by "
                            f"{delim!r}, quotes closed on the same line") from None
        end = reader.line_num
        if end > start and any("\n" in f for f in row):
            raise DataError(f"{p}:{start}: a quoted field runs from line {start} to line {end} (an "
                            f"unterminated quote?); every record must fit on one line")
        yield start, row
        start = end + 1
