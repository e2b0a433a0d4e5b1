"""Feature tables: bring-your-own files keyed by original ids, aligned to a dataset or refused."""
import numpy as np
import pytest
import torch

from darts_gnn.data import DataError, Dataset
from darts_gnn.features import FeatureTable, align, dataset_ids, read_table


def _ds(item_ids=None, n_items=4):
    pairs = np.array([[0, 0], [1, 1], [1, 2]])
    return Dataset("t", 2, n_items, pairs, np.zeros((0, 2)), np.zeros((0, 2)), item_ids=item_ids)


def test_align_follows_the_dataset_ids_not_the_file_order():
    t = FeatureTable(["c", "a", "b"], np.array([[3.0], [1.0], [2.0]]))
    x = align(t, ["a", "b", "c"])
    assert x.dtype == torch.float32 and x.flatten().tolist() == [1.0, 2.0, 3.0]


def test_missing_ids_raise_unless_a_fill_policy_is_given():
    t = FeatureTable(["1", "2"], np.array([[1.0, 0.0], [3.0, 2.0]]), "emb.csv")
    with pytest.raises(DataError, match=r"emb.csv: 1 of 3 item ids have no feature row \(first: '9'\)"):
        align(t, ["1", "9", "2"], what="item")
    assert align(t, ["1", "9"], missing="zero")[1].tolist() == [0.0, 0.0]
    assert align(t, ["1", "9"], missing="mean")[1].tolist() == [2.0, 1.0]


@pytest.mark.parametrize("ids, x, needle", [
    (["a", "a"], [[1.0], [2.0]], "id 'a' appears twice"),
    (["a", "b"], [[1.0], [float("nan")]], "row 2 \\(id 'b'\\) holds NaN"),
    (["a"], [[1.0], [2.0]], "1 ids but 2 feature rows"),
    (["a"], [1.0], "expected a feature matrix"),
    ([], np.zeros((0, 3)), "has no rows"),
])
def test_bad_tables_are_refused(ids, x, needle):
    with pytest.raises(DataError, match=needle):
        FeatureTable(ids, np.array(x, dtype=np.float32), "f")


def test_npy_needs_its_ids_file(tmp_path):
    p = tmp_path / "items.npy"
    np.save(p, np.eye(3, dtype=np.float32))
    with pytest.raises(DataError, match="items.npy.ids.txt"):
        read_table(p)
    (tmp_path / "items.npy.ids.txt").write_text("10\n11\n12\n")
    t = read_table(p)
    assert t.ids == ["10", "11", "12"] and t.dim == 3


def test_npz_and_csv_round_trip(tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.savez(tmp_path / "f.npz", ids=np.array(["u1", "u2", "u3"]), x=x)
    assert np.array_equal(read_table(tmp_path / "f.npz").x, x)
    (tmp_path / "f.csv").write_text("id,a,b\nu1,0,1\nu2,2,3\nu3,4,5\n")
    t = read_table(tmp_path / "f.csv")
    assert t.ids == ["u1", "u2", "u3"] and np.array_equal(t.x, x)


@pytest.mark.parametrize("text, needle", [
    ("id,a\nu1,1\nu2,x\n", r"f.csv:3: expected numbers"),
    ("id,a,b\nu1,1\n", r"f.csv:2: expected 3 fields"),
    ("id,a\nu1,nan\n", r"f.csv:2: NaN"),
    ("id,a\nu1,1\nu1,2\n", "id 'u1' appears twice"),
])
def test_bad_csv_names_file_and_line(tmp_path, text, needle):
    (tmp_path / "f.csv").write_text(text)
    with pytest.raises(DataError, match=needle):
        read_table(tmp_path / "f.csv")


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="feature file not found"):
        read_table(tmp_path / "nope.npz")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DataError, match="unknown feature file type"):
        read_table(tmp_path / "f.txt")


def test_dataset_ids_use_kept_ids_or_the_offset():
    assert dataset_ids(_ds(), "item", id_offset=1) == ["1", "2", "3", "4"]
    assert dataset_ids(_ds(item_ids=["x", "y", "z", "w"]), "item") == ["x", "y", "z", "w"]
    with pytest.raises(DataError, match="no offset applies"):
        dataset_ids(_ds(item_ids=["x", "y", "z", "w"]), "item", id_offset=1)
