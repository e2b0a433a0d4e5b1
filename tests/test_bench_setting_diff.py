"""benchmarks/setting_diff.py: one method under two settings, paired by (data set, seed)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import setting_diff  # noqa: E402


def _report(path, rows):
    """A bench_issue9.json with ``rows``: (seed, darts recall, darts ndcg) on data set ``d``."""
    out = {"threads": 1, "datasets": {"d": [
        {"seed": s, "reference_seconds": 10.0, "lightgcn": {"recall@20": 0.3, "ndcg@20": 0.4, "total_seconds": 10.0},
         "darts": {"recall@20": r, "ndcg@20": n, "total_seconds": 30.0}} for s, r, n in rows]}}
    path.write_text(json.dumps(out))
    return str(path)


def test_pairs_by_seed_and_reports_differences(tmp_path, capsys):
    a = _report(tmp_path / "a.json", [(0, 0.36, 0.42), (1, 0.35, 0.41), (2, 0.34, 0.40)])
    b = _report(tmp_path / "b.json", [(1, 0.34, 0.41), (0, 0.35, 0.43)])      # seed 2 not run in b
    rep = setting_diff.pair_settings([a], [b], "darts", ("top", "default"))
    assert [(r["seed"], r["top"]["recall@20"], r["default"]["recall@20"]) for r in rep["datasets"]["d"]] == \
        [(0, 0.36, 0.35), (1, 0.35, 0.34)]
    assert setting_diff.main(["--a", a, "--b", b, "--names", "top", "default"]) == 0
    out = capsys.readouterr().out
    assert "| d | default | recall@20 | 2 | +0.0100 |" in out      # both seeds +0.01
    assert "| d | default | ndcg@20 | 2 | -0.0050 |" in out       # 0.00 and -0.01


def test_refuses_a_set_without_the_method(tmp_path, capsys):
    a = _report(tmp_path / "a.json", [(0, 0.36, 0.42)])
    assert setting_diff.main(["--method", "random", "--a", a, "--b", a]) == 2
    assert "no report holds a 'random' row" in capsys.readouterr().err
    assert setting_diff.main(["--a", str(tmp_path / "missing.json"), "--b", a]) == 2
