"""``benchmarks/pick_noise.py``: the pick's noise split into the validation users' and the seed's."""
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from pick_noise import main, pair_rows, table  # noqa: E402


def _runs():
    # a leads b by 0.1 on average; per user the difference is 0.1 +- 0.1 (se 0.1 / sqrt(4) = 0.05);
    # seed 1 adds 0.02 to a on every user, so the seed spread of the mean difference is stdev(0.1, 0.12)
    a0, b = [0.5, 0.7, 0.5, 0.7], [0.5, 0.5, 0.5, 0.5]
    a1 = [x + 0.02 for x in a0]
    return [{"genotype": "a", "seed": 0, "valid": a0, "test": a0}, {"genotype": "b", "seed": 0, "valid": b, "test": b},
            {"genotype": "a", "seed": 1, "valid": a1, "test": a0}, {"genotype": "b", "seed": 1, "valid": b, "test": b}]


def test_a_pair_splits_its_noise_into_sampling_and_seed():
    (r,) = pair_rows(_runs())
    assert (r["a"], r["b"], r["seeds"]) == ("a", "b", 2)
    assert r["valid_diff"] == pytest.approx(0.11) and r["test_diff"] == pytest.approx(0.1)
    se = math.sqrt(4 * 0.01 / 3) / 2                     # stdev of (0, 0.2, 0, 0.2) over sqrt(4)
    assert r["se"] == pytest.approx(se)
    sd = math.sqrt(2) * 0.01                             # stdev of (0.10, 0.12)
    assert r["seed_sd"] == pytest.approx(sd)
    assert r["seed_share"] == pytest.approx(sd ** 2 / (sd ** 2 + se ** 2))
    assert r["k2"] == pytest.approx(math.sqrt((sd ** 2 / 2 + se ** 2) / (sd ** 2 + se ** 2)))
    assert 0 < r["k2"] < 1


def test_pairs_need_common_seeds_and_the_table_numbers_the_genotypes(tmp_path, capsys):
    runs = _runs() + [{"genotype": "c", "seed": 5, "valid": [0.1] * 4, "test": [0.1] * 4}]
    assert len(pair_rows(runs)) == 1                      # c shares no seed with a or b
    text = table(runs)
    assert "| 1 − 2 | 2 | +0.1100 | +0.1000 |" in text and "3. `c`" in text
    path = tmp_path / "pick_noise.json"
    path.write_text(json.dumps({"runs": runs}))
    assert main(["--table", str(path)]) == 0
    assert "| 1 − 2 |" in capsys.readouterr().out


def test_it_refuses_fewer_than_two_genotypes(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--genotype", "w64 | no propagation (MF) | combine=mean", "--out", "x"])
    assert e.value.code == 2


def test_the_drift_table_pairs_short_runs_with_final_retrains_of_the_same_seed_and_data():
    from pick_noise import drift_table
    runs = [dict(r, dataset="x") for r in _runs()]
    pools = [{"runs": [{"dataset": "x", "seed": 1, "candidates": [{"genotype": "a", "test": {"recall@20": 0.7}}]},
                       {"dataset": "y", "seed": 0, "candidates": [{"genotype": "a", "test": {"recall@20": 0.1}}]}]}]
    text = drift_table(runs, pools)
    assert "| 1 | 1 | 0.6000 | 0.7000 | +0.1000 |" in text     # a, seed 1: short test mean of a0 = 0.6
    assert text.count("\n") == 3                                  # header, rule, one row: y is another data set


def test_a_bad_summary_is_one_line_and_exit_2_before_any_training(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--genotype", "w16 | bogus", "--genotype", "w16 | no propagation (MF) | combine=mean",
              "--out", str(tmp_path / "out")])
    assert e.value.code == 2 and "not a genotype summary" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
