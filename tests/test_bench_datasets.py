"""The benchmark helpers that build data sets the acceptance does not name: a user subsample of a
LightGCN-format data set and a per-user holdout of a single interaction file."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from holdout_lightgcn import holdout  # noqa: E402
from subsample_lightgcn import read, subsample  # noqa: E402


def _rows(path: Path) -> dict:
    return read(path)


def test_holdout_keeps_every_kth_user_holds_out_a_fraction_and_reindexes():
    rows = {u: list(range(u, u + 10)) for u in range(12)}
    rows[6] = [1, 2, 3]                                        # below min_items: dropped
    train, test = holdout(rows, every=3, test_fraction=0.2, min_items=5, seed=1)
    assert len(train) == 3                                     # users 0, 3, 9
    assert all(len(v) == 8 for v in train.values())
    items = {i for v in train.values() for i in v}
    assert items == set(range(len(items)))                     # contiguous ids
    assert all(set(test[k]) <= items and not set(test[k]) & set(train[k]) for k in train)
    assert holdout(rows, 3, 0.2, 5, 1) == (train, test)        # repeatable
    assert holdout(rows, 3, 0.2, 5, 2) != (train, test)        # the seed matters


def test_subsample_drops_items_no_kept_user_trains_on():
    train = {0: [0, 1], 1: [2], 2: [3, 4]}
    new_train, new_test = subsample(train, {0: [1, 2], 2: [4, 9]}, every=2)
    assert new_train == {0: [0, 1], 1: [2, 3]} and new_test == {0: [1], 1: [3]}


def test_holdout_cli_writes_a_data_set_and_refuses_bad_input(tmp_path):
    src = tmp_path / "all.txt"
    src.write_text("".join(f"{u} " + " ".join(str((u * 7 + j) % 40) for j in range(8)) + "\n" for u in range(20)))
    out = tmp_path / "ds"
    run = [sys.executable, str(ROOT / "benchmarks" / "holdout_lightgcn.py")]
    res = subprocess.run(run + [str(src), str(out), "--every", "2"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert len(_rows(out / "train.txt")) == 10 and len(_rows(out / "test.txt")) == 10
    bad = subprocess.run(run + [str(tmp_path / "none.txt"), str(out)], capture_output=True, text=True)
    assert bad.returncode == 2 and "missing" in bad.stderr
    bad = subprocess.run(run + [str(src), str(out), "--test-fraction", "1.5"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--test-fraction" in bad.stderr
