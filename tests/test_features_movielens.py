"""MovieLens side files: latin-1 u.item, u.user, texts, structured columns, id alignment."""
import numpy as np
import pytest

from darts_gnn.data import DataError, Dataset
from darts_gnn.features import movielens as ml

FLAGS = "|".join(["0"] * 19)


def _item(i, title, date="01-Jan-1995", genres=None):
    flags = genres or FLAGS
    return f"{i}|{title}|{date}||http://x|{flags}\n"


def test_u_item_is_read_as_latin1(tmp_path):
    g = ["0"] * 19
    g[5] = g[8] = "1"  # Comedy, Drama
    data = (_item(1, "Toy Story (1995)") + _item(2, "Café au Lait (1994)", "01-Jan-1994", "|".join(g))
            + _item(3, "unknown", ""))
    (tmp_path / "u.item").write_bytes(data.encode("latin-1"))
    t = ml.read_items(tmp_path / "u.item")
    assert t.ids == ["1", "2", "3"] and t.titles[1] == "Café au Lait (1994)"
    assert t.years.tolist() == [1995, 1994, -1]
    texts = ml.item_texts(t)
    assert texts[1] == "Café au Lait (1994). Genres: Comedy, Drama. Released 1994."
    assert "Released" not in texts[2]
    s = ml.item_structured(t)
    assert s.shape == (3, 21) and s[2, 20] == 1.0 and s[2, 19] == 0.0 and s[1, 5] == 1.0


@pytest.mark.parametrize("line, needle", [
    ("1|T|01-Jan-1995||u|0|1\n", r"u.item:2: expected 24 '\|'-separated fields"),
    (f"x|T|01-Jan-1995||u|{FLAGS}\n", r"u.item:2: expected a numeric movie id"),
    (f"1|T|1995/01/01||u|{FLAGS}\n", r"u.item:2: expected a release date"),
    (f"1|T|01-Jan-1995||u|{FLAGS.replace('0', '2', 1)}\n", r"u.item:2: genre flags must be 0 or 1"),
    (_item(7, "Dup"), r"u.item:2: id '7' already given on line 1"),
])
def test_bad_u_item_names_file_and_line(tmp_path, line, needle):
    (tmp_path / "u.item").write_bytes((_item(7, "First") + line).encode("latin-1"))
    with pytest.raises(DataError, match=needle):
        ml.read_items(tmp_path / "u.item")


def test_u_user_and_its_columns(tmp_path):
    (tmp_path / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n")
    t = ml.read_users(tmp_path / "u.user")
    s = ml.user_structured(t)
    assert s.shape == (3, 1 + 2 + 3)
    assert np.allclose(s[:, 0].mean(), 0.0, atol=1e-6)
    assert s[:, 1:3].sum(1).tolist() == [1.0, 1.0, 1.0] and s[:, 3:].sum(1).tolist() == [1.0, 1.0, 1.0]
    (tmp_path / "bad.user").write_text("1|24|X|technician|85711\n")
    with pytest.raises(DataError, match=r"bad.user:1: gender must be M or F"):
        ml.read_users(tmp_path / "bad.user")


def test_split_alignment_is_checked_against_u_data(tmp_path):
    (tmp_path / "u.data").write_text("1\t1\t5\t0\n1\t2\t3\t0\n2\t2\t4\t0\n")
    ds = Dataset("t", 2, 2, np.array([[0, 0], [1, 1]]), np.zeros((0, 2)), np.array([[0, 1]]))
    ml.check_split_alignment(ds, tmp_path / "u.data", id_offset=1)
    with pytest.raises(DataError, match="do not map with id_offset=0"):
        ml.check_split_alignment(ds, tmp_path / "u.data", id_offset=0)


def test_real_ml100k_split2020_aligns_with_offset_1(shared_data):
    folder = shared_data / "ml-100k"
    if not (folder / "split-2020" / "train.txt").is_file():
        pytest.skip("ml-100k not available")
    from darts_gnn.config import DataConfig
    from darts_gnn.data import load_dataset
    ds = load_dataset(DataConfig(source="lightgcn", path=str(folder / "split-2020")))
    ml.check_split_alignment(ds, folder / "u.data", id_offset=1)
    items = ml.read_items(folder / "u.item")
    assert len(items.ids) == ds.n_items == 1682 and items.ids[0] == "1"
    assert ml.user_structured(ml.read_users(folder / "u.user")).shape[0] == ds.n_users == 943
