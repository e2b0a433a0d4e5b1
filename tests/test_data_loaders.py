"""Loaders: LightGCN lines, MovieLens u.data, CSV/TSV, social edges, and every kind of bad input."""
from __future__ import annotations

import logging

import pytest

from darts_gnn.config import DataConfig
from darts_gnn.data import (DataError, Dataset, Graph, drop_duplicates, load_csv, load_dataset,
                            load_lightgcn, load_movielens, load_social, read_lightgcn)


def write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def lightgcn_dir(tmp_path, train: str, test: str | None = None):
    d = tmp_path / "lg"
    d.mkdir()
    (d / "train.txt").write_text(train)
    if test is not None:
        (d / "test.txt").write_text(test)
    return d


# --------------------------------------------------------------------------- LightGCN format

def test_lightgcn_reads_pairs_lines_and_user_only_lines(tmp_path):
    p = write(tmp_path, "train.txt", "0 1 2\n1 0\n\n3\r\n2 4 1 \n")
    inter = read_lightgcn(p)
    assert inter.pairs.tolist() == [[0, 1], [0, 2], [1, 0], [2, 4], [2, 1]]
    assert inter.lines.tolist() == [1, 1, 2, 5, 5]
    assert inter.n_users == 4          # user 3 is on a line of its own: a user with no items
    assert inter.n_items == 5
    assert inter.user_ids is None


@pytest.mark.parametrize("text, line, words", [
    ("0 1 2\n1 a 3\n", 2, ["'a'", "not an integer id"]),
    ("0 1 2\n1 2\n2 1.5\n", 3, ["'1.5'", "not an integer id"]),
    ("0 1\n1 -3 4\n", 2, ["negative id '-3'"]),
    ("user item\n0 1\n", 1, ["'user'"]),
    ("0 1,2\n", 1, ["'1,2'"]),
])
def test_lightgcn_bad_tokens_name_file_and_line(tmp_path, text, line, words):
    p = write(tmp_path, "train.txt", text)
    with pytest.raises(DataError) as e:
        read_lightgcn(p)
    msg = str(e.value)
    assert f"{p}:{line}:" in msg
    for w in words:
        assert w in msg
    assert "expected" in msg


def test_lightgcn_huge_id_is_rejected(tmp_path):
    p = write(tmp_path, "train.txt", "0 1\n1 99999999999999999999999\n")
    with pytest.raises(DataError, match=r"train.txt:2: id 9+ is too large"):
        read_lightgcn(p)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_lightgcn_empty_file(tmp_path, text):
    p = write(tmp_path, "train.txt", text)
    with pytest.raises(DataError, match=r"train.txt: empty file"):
        read_lightgcn(p)


def test_missing_files_name_the_path(tmp_path):
    with pytest.raises(DataError, match=r"nope.txt: file not found"):
        read_lightgcn(tmp_path / "nope.txt")
    with pytest.raises(DataError, match=r"train.txt: file not found"):
        load_lightgcn(tmp_path)
    with pytest.raises(DataError, match=r"missing: not found"):
        load_dataset(DataConfig(source="lightgcn", path=str(tmp_path / "missing")))
    with pytest.raises(DataError, match=r"u.data: file not found"):
        load_dataset(DataConfig(source="movielens", path=str(tmp_path / "u.data"), split="random"))


def test_binary_file_is_reported(tmp_path):
    p = tmp_path / "train.txt"
    p.write_bytes(b"0 1\n1 \xff\xfe 2\n")
    with pytest.raises(DataError, match=r"train.txt:2: not UTF-8 text"):
        read_lightgcn(p)


def test_duplicates_dropped_with_count_logged(tmp_path, caplog):
    d = lightgcn_dir(tmp_path, "0 1 2 1\n1 0\n1 0 3\n", "0 2 3\n1 4\n")
    with caplog.at_level(logging.INFO, logger="darts_gnn.data"):
        train, test = load_lightgcn(d, duplicates="drop")
    assert train.pairs.tolist() == [[0, 1], [0, 2], [1, 0], [1, 3]]
    assert test.pairs.tolist() == [[0, 3], [1, 4]]       # (0, 2) is a training pair: leak removed
    msgs = [r.getMessage() for r in caplog.records if r.name == "darts_gnn.data"]
    assert any("dropped 2 duplicate" in m for m in msgs)
    assert any("dropped 1 duplicate" in m and "test" in m for m in msgs)


def test_duplicates_error_names_both_lines(tmp_path):
    d = lightgcn_dir(tmp_path, "0 1 2\n1 0\n1 3 0\n", "0 3\n")
    with pytest.raises(DataError) as e:
        load_lightgcn(d, duplicates="error")
    msg = str(e.value)
    assert "train.txt:3: duplicate pair (user 1, item 0), already at line 2" in msg
    assert "data.duplicates" in msg


def test_duplicate_between_test_and_train_error(tmp_path):
    d = lightgcn_dir(tmp_path, "0 1 2\n1 0\n", "0 3\n1 0\n")
    with pytest.raises(DataError, match=r"test.txt:2: duplicate pair \(user 1, item 0\), already at .*train.txt:2"):
        load_lightgcn(d, duplicates="error")


def test_drop_duplicates_rejects_unknown_policy(tmp_path):
    inter = read_lightgcn(write(tmp_path, "t.txt", "0 1\n"))
    with pytest.raises(ValueError, match="'drop' or 'error'"):
        drop_duplicates(inter, "keep")


# --------------------------------------------------------------------------- MovieLens

ML = "5\t10\t4\t100\n3\t10\t2\t50\n5\t7\t5\t300\n9\t7\t1\t10\n"


def test_movielens_remaps_ids_in_numeric_order(tmp_path):
    inter = load_movielens(write(tmp_path, "u.data", ML))
    assert inter.user_ids == ["3", "5", "9"] and inter.item_ids == ["7", "10"]
    assert inter.pairs.tolist() == [[1, 1], [0, 1], [1, 0], [2, 0]]
    assert inter.ratings.tolist() == [4, 2, 5, 1]
    assert inter.times.tolist() == [100, 50, 300, 10]
    assert (inter.n_users, inter.n_items) == (3, 2)


def test_movielens_min_rating_keeps_high_ratings_and_remaps_after(tmp_path):
    inter = load_movielens(write(tmp_path, "u.data", ML), min_rating=4)
    assert inter.user_ids == ["5"] and inter.item_ids == ["7", "10"]
    assert inter.pairs.tolist() == [[0, 1], [0, 0]]
    assert inter.lines.tolist() == [1, 3]
    with pytest.raises(DataError, match=r"no rating is >= data.min_rating=6"):
        load_movielens(write(tmp_path, "u2.data", ML), min_rating=6)


def test_movielens_double_colon_format(tmp_path):
    inter = load_movielens(write(tmp_path, "ratings.dat", "1::2::5::10\n2::2::3::11\n"))
    assert inter.pairs.tolist() == [[0, 0], [1, 0]]


@pytest.mark.parametrize("bad, words", [
    ("1\t2\t3\n", ["found 3 fields; expected 4"]),
    ("x\t2\t3\t4\n", ["'x' is not an integer id"]),
    ("1\t-2\t3\t4\n", ["negative id '-2'"]),
    ("1\t2\tnan\t4\n", ["rating is 'nan'; expected a finite number"]),
    ("1\t2\t3\tyesterday\n", ["timestamp is 'yesterday'"]),
])
def test_movielens_bad_lines(tmp_path, bad, words):
    p = write(tmp_path, "u.data", ML + bad)
    with pytest.raises(DataError) as e:
        load_movielens(p)
    assert f"{p}:5:" in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_movielens_empty(tmp_path):
    with pytest.raises(DataError, match="u.data: empty file"):
        load_movielens(write(tmp_path, "u.data", "\n"))


# --------------------------------------------------------------------------- CSV / TSV

CSV = "user_id,movie,stars,when\nalice,m1,4.5,2020-01-01\nbob,m2,3,2020-01-02T10:00:00\nalice,m3,1,2019-12-31\n"


def test_csv_string_ids_remapped_in_first_seen_order(tmp_path):
    inter = load_csv(write(tmp_path, "r.csv", CSV), "user_id", "movie", "stars", "when")
    assert inter.user_ids == ["alice", "bob"]
    assert inter.item_ids == ["m1", "m2", "m3"]
    assert inter.pairs.tolist() == [[0, 0], [1, 1], [0, 2]]
    assert inter.ratings.tolist() == [4.5, 3.0, 1.0]
    assert inter.times[2] < inter.times[0] < inter.times[1]
    assert inter.lines.tolist() == [2, 3, 4]


@pytest.mark.parametrize("delim", ["\t", ";", "|", ","])
def test_csv_delimiter_sniffed(tmp_path, delim):
    text = f"u{delim}i\n1{delim}a\n2{delim}b\n"
    inter = load_csv(write(tmp_path, "r.txt", text), "u", "i")
    assert inter.user_ids == ["1", "2"] and inter.item_ids == ["a", "b"]


def test_csv_explicit_tab_and_quotes(tmp_path):
    inter = load_csv(write(tmp_path, "r.tsv", 'user\titem\n"a b"\t"x\ty"\n'), delimiter="tab")
    assert inter.user_ids == ["a b"] and inter.item_ids == ["x\ty"]


def test_csv_whitespace_separated(tmp_path):
    inter = load_csv(write(tmp_path, "r.txt", "user item\nu1 i1\nu2   i1\n"))
    assert inter.pairs.tolist() == [[0, 0], [1, 0]]


@pytest.mark.parametrize("text, kwargs, pattern", [
    ("user,item,r\na,b,nan\n", {"rating_col": "r"}, r"r.csv:2: 'r' is 'nan'; expected a finite number"),
    ("user,item,r\na,b,1\nc,d,\n", {"rating_col": "r"}, r"r.csv:3: 'r' is empty; expected a finite number"),
    ("user,item,r\na,b,good\n", {"rating_col": "r"}, r"r.csv:2: 'r' is 'good'"),
    ("user,item\na,b\nc\n", {}, r"r.csv:3: found 1 fields; expected 2"),
    ("user,item\na,b\n,d\n", {}, r"r.csv:3: empty 'user' \(data.user_col\)"),
    ("uid,item\na,b\n", {}, r"r.csv:1: no column named 'user' \(data.user_col\); the header has 'uid', 'item'"),
    ("user,item\n", {}, r"r.csv: no data rows after the header"),
    ("user,item\na,b\n", {"time_col": "t"}, r"no column named 't' \(data.time_col\)"),
    ("user,item\na,b\n", {"min_rating": 3.0}, r"data.min_rating is set but there is no rating column"),
    ("useritem\nab\n", {}, r"r.csv:1: cannot tell the delimiter"),
    ("user,item,t\na,b,soon\n", {"time_col": "t"}, r"r.csv:2: 't' is 'soon'"),
])
def test_csv_bad_input(tmp_path, text, kwargs, pattern):
    with pytest.raises(DataError, match=pattern):
        load_csv(write(tmp_path, "r.csv", text), **kwargs)


def test_csv_through_load_dataset_keeps_mapping(tmp_path):
    rows = ["u,i,t"] + [f"user{u},item{(u * 7 + k) % 13},{k}" for u in range(6) for k in range(6)]
    p = write(tmp_path, "r.csv", "\n".join(rows) + "\n")
    ds = load_dataset(DataConfig(source="csv", path=str(p), user_col="u", item_col="i", time_col="t",
                                 split="temporal", test_fraction=0.2, valid_fraction=0.0))
    assert ds.user_ids == [f"user{u}" for u in range(6)]
    assert len(ds.item_ids) == ds.n_items == 13
    # temporal: each user's last item (t = 5) is the test item
    test_items = {(ds.user_ids[u], ds.item_ids[i]) for u, i in ds.test}
    assert test_items == {(f"user{u}", f"item{(u * 7 + 5) % 13}") for u in range(6)}


# --------------------------------------------------------------------------- social edges

def tiny(n_users=4, user_ids=None) -> Dataset:
    train = [[u, 0] for u in range(n_users)]
    return Dataset("tiny", n_users, 1, train, [], [], user_ids=user_ids)


def test_social_one_based_file_is_shifted(tmp_path, caplog):
    p = write(tmp_path, "trust.txt", "1\t2\r\n2\t4\r\n4\t1\r\n3\t3\r\n1\t2\r\n")
    with caplog.at_level(logging.INFO, logger="darts_gnn.data"):
        s = load_social(p, tiny(4))
    assert s.tolist() == [[0, 1], [1, 3], [3, 0]]
    assert "1-based" in caplog.text and "self-loops" in caplog.text and "repeated" in caplog.text


def test_social_zero_based_and_unknown_users_dropped(tmp_path, caplog):
    p = write(tmp_path, "trust.txt", "0 1\n1 2 0.5\n2 9\n")
    with caplog.at_level(logging.WARNING, logger="darts_gnn.data"):
        s = load_social(p, tiny(4))
    assert s.tolist() == [[0, 1], [1, 2]]
    assert "dropped 1 of 3 social edges" in caplog.text
    assert load_social(p, tiny(10), id_base=1).tolist() == [[0, 1], [1, 8]]


def test_social_matches_original_string_ids(tmp_path):
    p = write(tmp_path, "trust.txt", "bob\talice\nalice\tzed\n")
    s = load_social(p, tiny(2, user_ids=["alice", "bob"]))
    assert s.tolist() == [[1, 0]]


@pytest.mark.parametrize("text, pattern", [
    ("0 1\n2\n", r"trust.txt:2: found '2'; expected lines 'user user'"),
    ("0 1\n1 x\n", r"trust.txt:2: 'x' is not an integer id"),
    ("", r"trust.txt: empty file"),
    ("0 9\n", r"trust.txt: no social edge names two users of the data set"),
])
def test_social_bad_input(tmp_path, text, pattern):
    with pytest.raises(DataError, match=pattern):
        load_social(write(tmp_path, "trust.txt", text), tiny(4))


def test_social_edges_reach_the_graph(tmp_path):
    d = lightgcn_dir(tmp_path, "0 0 1\n1 1\n2 2\n", "0 2\n1 0\n2 1\n")
    p = write(tmp_path, "trust.txt", "0 2\n")
    ds = load_dataset(DataConfig(source="lightgcn", path=str(d), social_path=str(p), valid_fraction=0.0))
    assert ds.social.tolist() == [[0, 2]]
    g = Graph.from_dataset(ds)
    nbrs = lambda v: g.col[g.rowptr[v]:g.rowptr[v + 1]].tolist()
    assert 2 in nbrs(0) and 0 in nbrs(2)
    assert Graph.from_dataset(ds, social=False).num_edges == g.num_edges - 2


# --------------------------------------------------------------------------- load_dataset policies

def test_given_split_needs_test_file(tmp_path):
    d = lightgcn_dir(tmp_path, "0 1 2\n1 0 2\n")
    with pytest.raises(DataError, match=r"test.txt: file not found \(data.split 'given' needs"):
        load_dataset(DataConfig(source="lightgcn", path=str(d)))
    ds = load_dataset(DataConfig(source="lightgcn", path=str(d), split="random", test_fraction=0.5,
                                 valid_fraction=0.0))
    assert len(ds.train) == 2 and len(ds.test) == 2


def test_lightgcn_path_may_be_the_train_file(tmp_path):
    d = lightgcn_dir(tmp_path, "0 1 2\n1 0 2\n", "0 0\n1 1\n")
    ds = load_dataset(DataConfig(source="lightgcn", path=str(d / "train.txt"), valid_fraction=0.0))
    assert ds.name == "lg" and len(ds.test) == 2


@pytest.mark.parametrize("source, split, pattern", [
    ("lightgcn", "temporal", "needs timestamps, which the LightGCN format does not have"),
    ("movielens", "given", "needs a separate test file"),
    ("csv", "temporal", "set data.time_col"),
])
def test_unsupported_split_combinations(tmp_path, source, split, pattern):
    d = lightgcn_dir(tmp_path, "0 1 2\n", "0 3\n")
    path = {"lightgcn": d, "movielens": write(tmp_path, "u.data", ML),
            "csv": write(tmp_path, "r.csv", "user,item\na,b\n")}[source]
    with pytest.raises(DataError, match=pattern):
        load_dataset(DataConfig(source=source, path=str(path), split=split))


def test_users_without_train_items_lose_their_test_items(tmp_path, caplog):
    # user 2 has a training line with no items; user 3 appears only in test
    d = lightgcn_dir(tmp_path, "0 0 1 2\n1 1 2\n2\n", "0 3\n2 0 1\n3 4\n1 0\n")
    with caplog.at_level(logging.WARNING, logger="darts_gnn.data"):
        ds = load_dataset(DataConfig(source="lightgcn", path=str(d), valid_fraction=0.0))
    assert ds.n_users == 4 and ds.n_items == 5
    assert sorted(map(tuple, ds.test.tolist())) == [(0, 3), (1, 0)]
    assert "2 users have test interactions but no training interactions (first: user 2 at" in caplog.text
    assert "test.txt:2" in caplog.text and "dropped their 3 test pairs" in caplog.text


def test_no_training_interactions_at_all(tmp_path):
    d = lightgcn_dir(tmp_path, "0\n1\n", "0 1\n")
    with pytest.raises(DataError, match="no training interactions"):
        load_dataset(DataConfig(source="lightgcn", path=str(d)))


def test_summary_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="darts_gnn.data"):
        ds = load_dataset(DataConfig())
    line = [r.getMessage() for r in caplog.records if r.getMessage().startswith("data synthetic")]
    assert len(line) == 1 and f"{ds.n_users} users" in line[0]
