"""Property tests of the loaders: any byte string is either read into a consistent result or refused
with a DataError naming the file (and line when there is one), never another exception."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from darts_gnn.config import DataConfig  # noqa: E402
from darts_gnn.data import load_dataset  # noqa: E402
from darts_gnn.data.dataset import DataError  # noqa: E402
from darts_gnn.data.loaders import load_csv, load_movielens, read_lightgcn  # noqa: E402

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# mostly-valid text: digits and separators with a few hostile characters
NEARLY = st.text(alphabet="0123456789 \t\n\r,;\"'x-.\u200b\u00a0\ufeff\x00", max_size=200)
BYTES = st.one_of(st.binary(max_size=200), NEARLY.map(lambda s: s.encode("utf-8", "surrogatepass")))


def _write(data: bytes, name: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="prop-"))
    p = d / name
    p.write_bytes(data)
    return p


def _refused_well(e: DataError, p: Path) -> None:
    msg = str(e)
    assert msg.startswith(str(p.parent)), msg
    assert "\n" not in msg.strip(), msg
    m = re.match(re.escape(str(p)) + r":(\d+)", msg)
    if m:  # a line number, when given, is a line of the file
        assert 1 <= int(m.group(1)) <= p.read_bytes().count(b"\n") + p.read_bytes().count(b"\r") + 1, msg


def _consistent(inter) -> None:
    n = len(inter)
    assert inter.users.shape == inter.items.shape == inter.lines.shape == (n,)
    if n:
        assert 0 <= inter.users.min() and inter.users.max() < inter.n_users
        assert 0 <= inter.items.min() and inter.items.max() < inter.n_items
        assert inter.lines.min() >= 1


@SETTINGS
@given(BYTES)
def test_lightgcn_reader_reads_or_refuses(data):
    p = _write(data, "train.txt")
    try:
        inter = read_lightgcn(p)
    except DataError as e:
        _refused_well(e, p)
        return
    _consistent(inter)


@SETTINGS
@given(BYTES)
def test_movielens_reader_reads_or_refuses(data):
    p = _write(data, "u.data")
    try:
        inter = load_movielens(p)
    except DataError as e:
        _refused_well(e, p)
        return
    _consistent(inter)
    assert inter.ratings is not None and np.isfinite(inter.ratings).all()


@SETTINGS
@given(BYTES)
def test_csv_reader_reads_or_refuses(data):
    p = _write(b"user,item\n" + data, "x.csv")
    try:
        inter = load_csv(p)
    except DataError as e:
        _refused_well(e, p)
        return
    _consistent(inter)
    assert len(inter.user_ids) == inter.n_users and len(inter.item_ids) == inter.n_items


@SETTINGS
@given(BYTES, BYTES)
def test_lightgcn_dataset_is_consistent_or_refused(train, test):
    d = _write(train, "train.txt").parent
    (d / "test.txt").write_bytes(test)
    try:
        ds = load_dataset(DataConfig(source="lightgcn", path=str(d), valid_fraction=0.2))
    except DataError as e:
        assert str(d) in str(e) or str(e).startswith(("train", "valid", "test")), str(e)
        return
    pairs = [set(map(tuple, ds.split(s).tolist())) for s in ("train", "valid", "test")]
    assert not (pairs[0] & pairs[1]) and not (pairs[0] & pairs[2]) and not (pairs[1] & pairs[2])
    assert len(ds.train) > 0


@SETTINGS
@given(BYTES)
def test_social_reader_reads_or_refuses(data):
    from darts_gnn.data import Dataset
    from darts_gnn.data.social import load_social
    p = _write(data, "trust.txt")
    ds = Dataset("tiny", 5, 1, [[u, 0] for u in range(5)], [], [])
    try:
        edges = load_social(p, ds, "auto")
    except DataError as e:
        _refused_well(e, p)
        return
    assert edges.ndim == 2 and edges.shape[1] == 2 and len(edges) > 0
    assert edges.min() >= 0 and edges.max() < 5 and not (edges[:, 0] == edges[:, 1]).any()


YAMLISH = st.text(alphabet="abcdeflnrstuy_.:-[]{},#!&*|>'\"0123456789 \t\n\u00e9\ufeff", max_size=160)
KEYS = st.sampled_from(["train.epochs", "train.lr", "model.name", "data.source", "search.order", "x", "train",
                        "data.synthetic.n_users", "", "train.ks", "name"])


@SETTINGS
@given(st.one_of(st.binary(max_size=200), YAMLISH.map(str.encode)), st.lists(st.tuples(KEYS, YAMLISH), max_size=3))
def test_config_loads_or_names_the_problem(data, overrides):
    from darts_gnn.config import Config, ConfigError, load_config
    p = _write(data, "c.yaml")
    try:
        cfg = load_config(p, [f"{k}={v}" for k, v in overrides])
    except ConfigError as e:
        msg = str(e)
        assert msg.startswith((str(p), "--set")) and "\n" not in msg.strip(), msg
        return
    assert isinstance(cfg, Config) and cfg.train.epochs >= 1 and cfg.model.dim >= 1
