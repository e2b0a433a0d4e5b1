"""Fault injection, class "data": malformed files of every supported format are refused with one line
naming file:line (exit 2, no run directory); inputs that can be read are read, never guessed."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from faultkit import cli, sets

LG = ["data.source=lightgcn"]

LIGHTGCN = [  # (train.txt bytes, test.txt bytes or None, message parts)
    (b"0 1 2\n1 x 3\n", b"0 3\n", ["train.txt:2:", "'x' is not an integer id"]),
    (b"0 1\n-1 2\n", b"0 2\n", ["train.txt:2:", "negative id '-1'"]),
    ("0 1\u200b 2\n".encode(), b"0 2\n", ["train.txt:1:4:", "U+200B (ZERO WIDTH SPACE)"]),
    ("0 1\n1\u00a02\n".encode(), b"0 2\n", ["train.txt:2:2:", "U+00A0 (NO-BREAK SPACE)"]),
    (b"0 1\n1 \xff 2\n", b"0 2\n", ["train.txt:2:", "not UTF-8 text (byte 0xff)"]),
    (b"0 1\x00\x00 2\n", b"0 2\n", ["train.txt:1:", "NUL byte"]),
    (b"", b"0 2\n", ["train.txt: empty file"]),
    (b"0 1 2\n1 99999999999\n", b"0 2\n", ["train.txt:2:", "too large"]),
    (b"0 1 2\n1 2 3\n", None, ["test.txt: file not found", "data.split: random"]),
    (b"0 1 2\n1 2 3\n", b"0\n1\n", ["the test split is empty"]),
    (b"0 1 2\n1 2 3\n", b"0 4\n1 a\n", ["test.txt:2:", "'a' is not an integer id"]),
]


@pytest.mark.parametrize("train, test, parts", LIGHTGCN, ids=[
    "letter", "negative", "zero-width-space", "nbsp", "not-utf8", "nul", "empty", "huge-id", "no-test",
    "test-without-items", "bad-test"])
def test_malformed_lightgcn(tmp_path, capsys, train, test, parts):
    d = tmp_path / "data"
    d.mkdir()
    (d / "train.txt").write_bytes(train)
    if test is not None:
        (d / "test.txt").write_bytes(test)
    rc, err = cli(["train", *sets(*LG, f"data.path={d}"), "--out", str(tmp_path / "run")], capsys)
    assert rc == 2, err
    for part in parts:
        assert part in err, err
    assert not (tmp_path / "run").exists()


TABLES = [  # (source, file name, bytes, extra settings, message parts)
    ("movielens", "u.data", b"1\t1\t5\t10\n2\t3\t4\n", [], ["u.data:2:", "found 3 fields"]),
    ("movielens", "u.data", b"1\t1\t5\t10\n2\t3\tnan\t11\n", [], ["u.data:2:", "rating is 'nan'"]),
    ("movielens", "u.data", b"1\t1\t5\t10\n2\t3\t4\tlater\n", ["data.split=temporal"], ["u.data:2:", "timestamp"]),
    ("movielens", "u.data", b"1\t1\t1\t10\n2\t3\t2\t11\n", ["data.split=random", "data.min_rating=4"],
     ["no rating is >= data.min_rating=4"]),
    ("csv", "x.csv", b"user,item\n1,2\n", ["data.item_col=movie"], ["x.csv:1:", "no column named 'movie'"]),
    ("csv", "x.csv", b'user,item\n1,2\n"3,4\n5,6\n', [], ["x.csv:3:", "malformed CSV record"]),
    ("csv", "x.csv", b'user,item\n1,2\n"3\n4",5\n', [], ["x.csv:3:", "runs from line 3 to line 4"]),
    ("csv", "x.csv", b"user,item\n1,2\n3,4,5\n", [], ["x.csv:3:", "found 3 fields; expected 2"]),
    ("csv", "x.csv", b"user,item\n1,2\n,4\n", [], ["x.csv:3:", "empty 'user'"]),
    ("csv", "x.csv", b"user,item\n", [], ["x.csv: no data rows"]),
    ("csv", "x.csv", b"user,item\n1,2\x003\n", [], ["x.csv:2:", "NUL byte"]),
    ("csv", "x.csv", b"user,item,rating\n1,2,\n", ["data.rating_col=rating"], ["x.csv:2:", "'rating' is empty"]),
]


@pytest.mark.parametrize("source, name, data, extra, parts", TABLES, ids=[
    "ml-fields", "ml-nan", "ml-time", "ml-min-rating", "csv-column", "csv-open-quote", "csv-multiline",
    "csv-fields", "csv-empty-id", "csv-header-only", "csv-nul", "csv-empty-rating"])
def test_malformed_tables(tmp_path, capsys, source, name, data, extra, parts):
    f = tmp_path / name
    f.write_bytes(data)
    split = [] if any(e.startswith("data.split") for e in extra) else ["data.split=random"]
    rc, err = cli(["train", *sets(f"data.source={source}", f"data.path={f}", *split, *extra),
                   "--out", str(tmp_path / "run")], capsys)
    assert rc == 2, err
    for part in parts:
        assert part in err, err
    assert not (tmp_path / "run").exists()


def test_data_path_is_a_device(tmp_path, capsys):
    rc, err = cli(["train", *sets("data.source=movielens", "data.path=/dev/zero", "data.split=random"),
                   "--out", str(tmp_path / "run")], capsys)
    assert rc == 2 and "/dev/zero: is a device or socket, not a file" in err and not (tmp_path / "run").exists()


def _lightgcn(tmp_path, train=b"0 0 1\n1 1 2\n2 2 3\n3 3 0\n", test=b"0 2\n1 3\n2 0\n3 1\n"):
    d = tmp_path / "lg"
    d.mkdir(exist_ok=True)
    (d / "train.txt").write_bytes(train)
    (d / "test.txt").write_bytes(test)
    return d


SOCIAL = [  # (trust file bytes, extra settings, message parts)
    (b"2\t3\n3\t2\n", [], ["cannot tell whether the user ids are 0- or 1-based", "set data.social_base: 0 or 1"]),
    (b"0\t1\n4\n", [], ["trust.txt:2:", "expected lines 'user user'"]),
    (b"0 9\n", [], ["no social edge names two users"]),
    (b"0 1\n0 4\n", [], ["cannot tell", "both id 0 and id 4"]),
]


@pytest.mark.parametrize("trust, extra, parts", SOCIAL, ids=["ambiguous-base", "short-line", "no-edge", "both"])
def test_malformed_social(tmp_path, capsys, trust, extra, parts):
    d = _lightgcn(tmp_path)
    (d / "trust.txt").write_bytes(trust)
    rc, err = cli(["train", *sets(*LG, f"data.path={d}", f"data.social_path={d / 'trust.txt'}",
                                  "data.valid_fraction=0", *extra), "--out", str(tmp_path / "run")], capsys)
    assert rc == 2, err
    for part in parts:
        assert part in err, err
    assert not (tmp_path / "run").exists()


def test_social_base_is_logged_and_settable(tmp_path, caplog):
    from darts_gnn.config import DataConfig
    from darts_gnn.data import load_dataset
    d = _lightgcn(tmp_path)
    (d / "trust.txt").write_text("2\t3\n3\t2\n")
    with caplog.at_level(logging.INFO, logger="darts_gnn.data"):
        a = load_dataset(DataConfig(source="lightgcn", path=str(d), social_path=str(d / "trust.txt"), social_base=0))
        b = load_dataset(DataConfig(source="lightgcn", path=str(d), social_path=str(d / "trust.txt"), social_base=1))
    assert a.social.tolist() == [[2, 3], [3, 2]] and b.social.tolist() == [[1, 2], [2, 1]]
    assert "social ids are 0-based (data.social_base)" in caplog.text
    assert "social ids are 1-based (data.social_base)" in caplog.text


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_line_endings_and_encodings_are_read_not_guessed(tmp_path, newline, encoding):
    from darts_gnn.data.loaders import read_lightgcn
    text = "0 1 2\n1 2\n2 0 1\n".replace("\n", newline.decode()).encode(encoding)
    p = tmp_path / "train.txt"
    p.write_bytes(text)
    inter = read_lightgcn(p)
    assert inter.n_users == 3 and inter.pairs.tolist() == [[0, 1], [0, 2], [1, 2], [2, 0], [2, 1]]


def test_sparse_ids_are_remapped_not_allocated(tmp_path, caplog):
    from darts_gnn.config import DataConfig
    from darts_gnn.data import load_dataset
    d = _lightgcn(tmp_path, b"0 5 1000000000\n2000000000 7 5\n", b"0 7\n2000000000 1000000000\n")
    with caplog.at_level(logging.WARNING, logger="darts_gnn.data"):
        ds = load_dataset(DataConfig(source="lightgcn", path=str(d), valid_fraction=0))
    assert (ds.n_users, ds.n_items) == (2, 3)
    assert ds.user_ids == ["0", "2000000000"] and ds.item_ids == ["5", "7", "1000000000"]
    assert sorted(map(tuple, ds.test.tolist())) == [(0, 1), (1, 2)]
    assert "user ids are sparse" in caplog.text and "item ids are sparse" in caplog.text
    assert np.array_equal(np.unique(ds.train[:, 0]), [0, 1])


def test_movielens_file_read_as_lightgcn_is_not_silent(tmp_path, caplog):
    from darts_gnn.data.loaders import read_lightgcn
    p = tmp_path / "train.txt"
    p.write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t377\t1\t878887116\n")
    with caplog.at_level(logging.WARNING, logger="darts_gnn.data"):
        read_lightgcn(p)
    assert "1 of 3 lines repeat a user listed earlier (first: user 196 at lines 1 and 3)" in caplog.text
    assert "set data.source: movielens or csv" in caplog.text
