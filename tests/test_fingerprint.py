"""Dataset fingerprints: stable under row order, sensitive to any change of the training pairs."""
import numpy as np

from darts_gnn.data import Dataset
from darts_gnn.store.fingerprint import dataset_fingerprint, fingerprint_diff, sha256_file


def _ds(train):
    return Dataset("toy", 3, 4, np.array(train), np.zeros((0, 2)), np.array([[0, 3]]))


def test_order_free_and_sensitive(tmp_path):
    a = dataset_fingerprint(_ds([[0, 1], [1, 2], [2, 0]]))
    b = dataset_fingerprint(_ds([[2, 0], [0, 1], [1, 2]]))
    c = dataset_fingerprint(_ds([[0, 1], [1, 2], [2, 1]]))
    assert a == b
    assert fingerprint_diff(a, b) == []
    diff = fingerprint_diff(a, c)
    assert len(diff) == 1 and diff[0].startswith("train_sha256:")
    p = tmp_path / "f.bin"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
