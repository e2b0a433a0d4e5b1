"""data.valid_split: the validation holdout is random or each user's latest training pairs (temporal)."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from darts_gnn.config import ConfigError, DataConfig, load_config
from darts_gnn.data import DataError, carve_valid, load_csv, load_dataset, temporal_split


def _csv(tmp_path, n_users=5, per_user=10):
    """Each user ``u`` meets items ``(3u + k) % 17`` at time ``k`` (k = 0..per_user-1), rows shuffled."""
    rows = [(f"u{u}", f"i{(3 * u + k) % 17}", k) for u in range(n_users) for k in range(per_user)]
    order = np.random.default_rng(0).permutation(len(rows))
    p = tmp_path / "r.csv"
    p.write_text("user,item,t\n" + "".join(f"{rows[j][0]},{rows[j][1]},{rows[j][2]}\n" for j in order))
    return p


def _times(ds, pairs):
    """The time each pair of ``pairs`` was met (the generator above: item index back to k)."""
    out = []
    for u, i in pairs:
        user, item = int(ds.user_ids[u][1:]), int(ds.item_ids[i][1:])
        out.append(next(k for k in range(17) if (3 * user + k) % 17 == item))
    return np.array(out)


def _by_user(ds, pairs):
    return {u: sorted(_times(ds, pairs[pairs[:, 0] == u])) for u in range(ds.n_users)}


def test_temporal_validation_under_a_temporal_split(tmp_path, caplog):
    cfg = DataConfig(source="csv", path=str(_csv(tmp_path)), time_col="t", split="temporal",
                     test_fraction=0.2, valid_fraction=0.25, valid_split="temporal")
    with caplog.at_level(logging.INFO, logger="darts_gnn.data"):
        ds = load_dataset(cfg)
    assert "split temporal, validation temporal" in caplog.text
    test, valid, train = _by_user(ds, ds.test), _by_user(ds, ds.valid), _by_user(ds, ds.train)
    for u in range(ds.n_users):
        assert test[u] == [8, 9]                 # h(10) = 2 latest go to test
        assert valid[u] == [6, 7]                # h(8) = 2 latest of the rest go to validation
        assert train[u] == list(range(6))


def test_validation_is_random_by_default_also_under_a_temporal_split(tmp_path, caplog):
    base = dict(source="csv", path=str(_csv(tmp_path)), time_col="t", split="temporal",
                test_fraction=0.2, valid_fraction=0.25)
    with caplog.at_level(logging.INFO, logger="darts_gnn.data"):
        ds = load_dataset(DataConfig(**base))
    assert "validation random" in caplog.text
    inter = load_csv(base["path"], time_col="t")
    train, _ = temporal_split(inter.pairs, inter.times, 0.2)
    assert ds.valid.tolist() == carve_valid(train, 0.25, 2020)[1].tolist()     # the seeded random carve
    temporal = load_dataset(DataConfig(valid_split="temporal", **base))
    assert not np.array_equal(np.sort(_times(ds, ds.valid)), np.sort(_times(temporal, temporal.valid)))


def test_temporal_validation_under_a_random_split(tmp_path):
    ds = load_dataset(DataConfig(source="csv", path=str(_csv(tmp_path)), time_col="t", split="random",
                                 test_fraction=0.2, valid_fraction=0.25, valid_split="temporal"))
    valid, train = _by_user(ds, ds.valid), _by_user(ds, ds.train)
    for u in range(ds.n_users):
        assert len(valid[u]) == 2 and min(valid[u]) > max(train[u])


def test_carve_valid_with_times_takes_each_users_latest_ties_by_input_order():
    train = np.array([[0, 0], [0, 1], [0, 2], [1, 3], [1, 4], [0, 5]])
    times = np.array([5.0, 1.0, 5.0, 2.0, 1.0, 0.0])
    rest, valid = carve_valid(train, 0.5, seed=0, times=times)
    assert valid.tolist() == [[0, 0], [0, 2], [1, 3]]          # user 0: the two at t=5; user 1: t=2
    assert rest.tolist() == [[0, 1], [1, 4], [0, 5]]
    again, _ = carve_valid(train, 0.5, seed=99, times=times)    # the seed plays no part
    assert again.tolist() == rest.tolist()


@pytest.mark.parametrize("cfg", [
    DataConfig(valid_split="temporal"),                                             # synthetic
    DataConfig(source="lightgcn", path="LG", split="given", valid_split="temporal"),
])
def test_temporal_validation_without_timestamps_is_refused(tmp_path, cfg):
    d = tmp_path / "lg"
    d.mkdir()
    (d / "train.txt").write_text("0 0 1 2\n1 1 2 3\n")
    (d / "test.txt").write_text("0 3\n1 0\n")
    if cfg.path == "LG":
        cfg.path = str(d)
    with pytest.raises(DataError, match=r"data.valid_split 'temporal' needs timestamps"):
        load_dataset(cfg)


def test_unknown_valid_split_names_the_key():
    with pytest.raises(ConfigError, match=r"data.valid_split.*random, temporal"):
        load_config(None, ["data.valid_split=latest"])


def test_a_run_saved_before_valid_split_evaluates_with_its_random_validation(tmp_path, capsys):
    """model.pt and config.yaml of an older darts-gnn have no data.valid_split; their validation was
    random, and evaluate must rebuild that data set (the training pairs are checked)."""
    import torch
    from faultkit import cli, sets
    from darts_gnn.store.manifest import seal

    run = tmp_path / "run"
    data = ["data.source=csv", f"data.path={_csv(tmp_path, n_users=12)}", "data.time_col=t",
            "data.split=temporal"]
    assert cli(["train", *sets(*data), "--out", str(run)], capsys)[0] == 0
    ckpt = torch.load(run / "model.pt", weights_only=True)
    del ckpt["config"]["data"]["valid_split"]
    torch.save(seal(ckpt), run / "model.pt")
    text = (run / "config.yaml").read_text()
    assert "valid_split: random\n" in text
    (run / "config.yaml").write_text("\n".join(ln for ln in text.splitlines() if "valid_split" not in ln) + "\n")
    assert cli(["evaluate", str(run)], capsys) == (0, "")


def test_cli_refuses_temporal_validation_without_timestamps_with_exit_2(tmp_path, capsys):
    from faultkit import cli, sets
    rc, err = cli(["train", *sets("data.valid_split=temporal"), "--out", str(tmp_path / "run")], capsys)
    assert rc == 2 and "data.valid_split 'temporal' needs timestamps" in err
    assert not (tmp_path / "run").exists()
