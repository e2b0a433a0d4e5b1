"""Reading interaction files as text, and turning their tokens into ids, numbers and times.

Shared by every reader in :mod:`darts_gnn.data.loaders`: the encoding comes from the byte-order mark
(else UTF-8), CR/CRLF line ends are normalised (and logged), NUL bytes and invisible characters are
named by line and column, and every bad token raises :class:`~darts_gnn.data.dataset.DataError` with
``file:line`` and what was expected.
"""
from __future__ import annotations

import codecs
import logging
import math
import re
import unicodedata
from pathlib import Path

import numpy as np

from .dataset import DataError

log = logging.getLogger("darts_gnn.data")

_NOT_DIGIT = re.compile(r"[^0-9]")
_MAX_ID = 2**31 - 1  # ids index embedding tables; anything larger is certainly a mistake

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _decode(raw: bytes, p: Path, what: str) -> str:
    """UTF-8, or the UTF-8/16/32 its byte-order mark announces (logged); else DataError with the line."""
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{p}:{line}: not {encoding.upper().replace('-SIG', '')} text (byte 0x{raw[e.start]:02x}); "
                        f"expected {what} in UTF-8") from None
    if encoding not in ("utf-8", "utf-8-sig"):
        log.info("%s: read as %s (byte-order mark)", p, encoding.upper())
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DataError(f"{p}:{line}: NUL byte in the text (a binary file, or UTF-16 without a byte-order "
                        f"mark?); expected {what} in UTF-8")
    return text.lstrip("\ufeff")


def _normalise_newlines(text: str, p: Path) -> str:
    """``\\r\\n`` (Windows) and lone ``\\r`` (classic Mac) line ends become ``\\n``; a change is logged."""
    if "\r" not in text:
        return text
    crlf = text.count("\r\n")
    lone = text.count("\r") - crlf
    log.info("%s: line endings %s", p, ", ".join(x for x in (f"{crlf} CRLF" if crlf else "",
                                                             f"{lone} CR" if lone else "") if x))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_text(path: str | Path, what: str) -> tuple[str, str]:
    """Whole file as text (encoding from the BOM, else UTF-8; line ends normalised to ``\\n``).
    Missing, unreadable, binary or empty -> DataError."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found (expected {what})")
    if p.is_dir():
        raise DataError(f"{p}: is a folder, expected a file ({what})")
    if p.is_char_device() or p.is_block_device() or p.is_socket():
        raise DataError(f"{p}: is a device or socket, not a file ({what})")  # /dev/zero never ends
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror})") from None
    text = _normalise_newlines(_decode(raw, p, what), p)
    if not text.strip():
        raise DataError(f"{p}: empty file (expected {what})")
    return text, str(p)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _token_at(text: str, pos: int) -> str:
    start = pos
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def _bad_char_message(path: str, text: str, pos: int, expected: str) -> str:
    """Name an unexpected character by its code point, line and column (invisible ones too)."""
    ch = text[pos]
    line = _line_of(text, pos)
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    token = _token_at(text, pos)
    if re.fullmatch(r"-\d+", token):
        return _bad_id_message(path, line, token, expected)
    if not ch.isprintable() or ch.isspace() or unicodedata.category(ch) in ("Cf", "Zs", "Mn"):
        name = unicodedata.name(ch, "control character")
        return (f"{path}:{line}:{col}: invisible character U+{ord(ch):04X} ({name}) in {token!r}; "
                f"expected {expected}")
    return _bad_id_message(path, line, token, expected)


def _bad_id_message(path: str, line: int, token: str, expected: str) -> str:
    if re.fullmatch(r"-\d+", token):
        return f"{path}:{line}: negative id {token!r}; expected {expected}"
    return f"{path}:{line}: {token!r} is not an integer id; expected {expected}"


def _to_ids(tokens: list[str], lines: np.ndarray, path: str, expected: str) -> np.ndarray:
    """Convert string tokens to non-negative int64 ids; the first bad one -> DataError with its line."""
    try:
        arr = np.array(tokens, dtype=np.int64) if tokens else np.zeros(0, np.int64)
        ok = bool(np.all(arr >= 0)) and bool(np.all(arr <= _MAX_ID))
    except (ValueError, OverflowError):
        ok = False
    if ok:
        # numpy also accepts "+3", " 3" and "1_0"; insist on plain digits.
        ok = not _NOT_DIGIT.search("".join(tokens))
    if ok:
        return arr
    for k, t in enumerate(tokens):
        if not t.isdigit():
            raise DataError(_bad_id_message(path, int(lines[k]), t, expected))
        if int(t) > _MAX_ID:
            raise DataError(f"{path}:{int(lines[k])}: id {t} is too large (at most {_MAX_ID}); "
                            f"expected {expected}")
    raise DataError(f"{path}: could not read the ids; expected {expected}")  # pragma: no cover


def _to_floats(tokens: list[str], lines: np.ndarray, path: str, column: str) -> np.ndarray:
    """Convert to float64; unparsable, NaN or infinite values -> DataError with the line."""
    try:
        arr = np.array(tokens, dtype=np.float64) if tokens else np.zeros(0)
        ok = bool(np.all(np.isfinite(arr)))
    except ValueError:
        ok = False
    if ok:
        return arr
    for k, t in enumerate(tokens):
        try:
            v = float(t)
        except ValueError:
            v = None
        if v is None or not math.isfinite(v):
            what = "empty" if not t.strip() else repr(t)
            raise DataError(f"{path}:{int(lines[k])}: {column} is {what}; expected a finite number")
    raise DataError(f"{path}: could not read column {column}")  # pragma: no cover


def _to_times(tokens: list[str], lines: np.ndarray, path: str, column: str) -> np.ndarray:
    """Timestamps as float64 seconds: numbers, or ISO 8601 dates / date-times."""
    try:
        arr = np.array(tokens, dtype=np.float64)
        if np.all(np.isfinite(arr)):
            return arr
    except ValueError:
        pass
    out = np.empty(len(tokens), dtype=np.float64)
    for k, t in enumerate(tokens):
        try:
            out[k] = float(t)
            if not math.isfinite(out[k]):
                raise ValueError
            continue
        except ValueError:
            pass
        try:
            out[k] = np.datetime64(t.strip().replace(" ", "T"), "s").astype(np.int64)
        except ValueError:
            raise DataError(f"{path}:{int(lines[k])}: {column} is {t!r}; expected a number (e.g. unix "
                            f"seconds) or an ISO 8601 date such as 2020-01-31T12:00:00") from None
    return out
