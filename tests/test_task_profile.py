"""The ``profile`` task: attributes, probe metrics, user split, no leakage into training."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from darts_gnn.config import ConfigError, ModelConfig, TrainConfig, load_config
from darts_gnn.data import Graph
from darts_gnn.data.attributes import age_bucket, load_user_attributes, split_users
from darts_gnn.data.dataset import DataError
from darts_gnn.nn.models import build_model
from darts_gnn.engine.seed import seed_everything
from darts_gnn.tasks import TaskError, build_task
from darts_gnn.tasks.probe import accuracy, fit_probe, macro_f1, majority_baseline, probe_attribute
from helpers import tiny

OCCUPATIONS = ("artist", "doctor", "student")


def write_users(path, n, seed=0, base=1):
    """A MovieLens-style u.user for users ``base..n-1+base`` with random attributes."""
    rng = np.random.default_rng(seed)
    lines = [f"{k + base}|{rng.integers(10, 70)}|{'MF'[rng.integers(2)]}|{OCCUPATIONS[rng.integers(3)]}|00000"
             for k in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ metrics
def test_macro_f1_and_accuracy_by_hand():
    y = np.array([0, 0, 0, 1, 1, 2])
    p = np.array([0, 0, 1, 1, 2, 2])
    # class 0: tp 2 fp 0 fn 1 -> 4/5; class 1: tp 1 fp 1 fn 1 -> 1/2; class 2: tp 1 fp 1 fn 0 -> 2/3
    assert macro_f1(y, p) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert accuracy(y, p) == pytest.approx(4 / 6)
    # a class only predicted (never true) counts with F1 0
    assert macro_f1(np.array([0, 0]), np.array([0, 1])) == pytest.approx((2 / 3 + 0) / 2)
    m = majority_baseline(np.array([1, 1, 0]), y)
    assert m["acc"] == pytest.approx(2 / 6) and m["f1"] == pytest.approx((0 + 2 / 4 + 0) / 3)


def test_probe_separates_linearly_encoded_classes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0)) * 0.1
    x[:, 0] += torch.as_tensor(y, dtype=torch.float32) * 2.0            # class along one axis (ordered)
    x[:, 1] += torch.as_tensor(y == 1, dtype=torch.float32) * 2.0
    idx = rng.permutation(300)
    r = probe_attribute(x, y, 3, idx[:200], idx[200:250], idx[250:])
    assert r["test_acc"] == 1.0 and r["test_f1"] == 1.0
    a = fit_probe(x, y, 3, 1e-2).predict(x)
    assert np.array_equal(a, fit_probe(x, y, 3, 1e-2).predict(x))      # deterministic


# ------------------------------------------------------------------ attributes
def test_attributes_map_one_based_ids_and_bucket_ages(tmp_path):
    ds, _ = tiny(0, U=30)
    path = tmp_path / "u.user"
    path.write_text("1|17|M|student|1\n2|18|F|artist|2\n30|56|F|doctor|3\n")
    a = load_user_attributes(path, ds)                       # largest id 30 = number of users: 1-based
    assert a.labels["gender"][[0, 1, 29]].tolist() == [1, 0, 0] and a.classes["gender"] == ["F", "M"]
    assert [a.classes["age"][k] for k in a.labels["age"][[0, 1, 29]]] == ["<18", "18-24", "56+"]
    assert a.labels["occupation"][2] == -1 and a.known().sum() == 3
    assert [age_bucket(x) for x in (1, 24, 25, 44, 45, 50, 55, 80)] == [0, 1, 2, 3, 4, 5, 5, 6]


def test_bad_attribute_files_name_the_line(tmp_path):
    ds, _ = tiny(0, U=30)
    bad = tmp_path / "u.user"
    bad.write_text("1|24|M|student|1\n2|x|F|artist|2\n")
    with pytest.raises(DataError, match=r"u.user:2: .*expected"):
        load_user_attributes(bad, ds)
    amb = tmp_path / "amb.user"
    amb.write_text("3|24|M|student|1\n4|30|F|artist|2\n")     # neither an id 0 nor id 30: ambiguous
    with pytest.raises(DataError, match="task.id_base"):
        load_user_attributes(amb, ds)
    assert load_user_attributes(amb, ds, id_base=0).labels["gender"][3] == 1


def test_user_split_is_disjoint_and_seeded():
    known = np.ones(100, dtype=bool)
    known[::10] = False
    a, b = split_users(known, 0.2, 0.1, 1), split_users(known, 0.2, 0.1, 1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    tr, va, te = a
    assert len(te) == 18 and len(va) == 7 and len(tr) == 65
    assert not (set(tr) & set(va) or set(tr) & set(te) or set(va) & set(te))
    assert known[np.concatenate(a)].all()
    assert not np.array_equal(te, split_users(known, 0.2, 0.1, 2)[2])


# ------------------------------------------------------------------ the task
def _train_a_few_steps(task, ds, steps=3):
    seed_everything(0)
    model = build_model(ModelConfig(name="lightgcn", dim=8, n_layers=2), ds, Graph.from_dataset(ds))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for k, batch in zip(range(steps), task.sampler(ds, 64, 0)):
        loss = task.loss(model, None, batch, 1e-4)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_attributes_never_reach_training(tmp_path):
    """Two attribute files with different labels: identical batches and identical trained weights."""
    models = []
    for seed in (0, 1):
        path = write_users(tmp_path / f"u{seed}.user", 30, seed)
        task = build_task(load_config(None, ["task.name=profile", f"task.attributes_path={path}"]).task)
        ds, _ = tiny(0, U=30)
        ds = task.prepare(ds)
        models.append(_train_a_few_steps(task, ds))
        ranking = build_task("ranking")
        b1, b2 = next(iter(task.sampler(ds, 64, 0))), next(iter(ranking.sampler(ds, 64, 0)))
        assert all(torch.equal(x, y) for x, y in zip(b1, b2))
    labels = [load_user_attributes(tmp_path / f"u{s}.user", ds).labels["gender"] for s in (0, 1)]
    assert not np.array_equal(*labels)
    for (k, a), (_, b) in zip(models[0].state_dict().items(), models[1].state_dict().items()):
        assert torch.equal(a, b), k


def test_evaluator_reports_probe_metrics_on_test_only_by_default(tmp_path):
    path = write_users(tmp_path / "u.user", 30)
    ds, _ = tiny(0, U=30)
    for monitor, valid_has_probe in (("ranking", False), ("probe", True)):
        task = build_task(load_config(None, ["task.name=profile", f"task.attributes_path={path}",
                                             f"task.monitor={monitor}", "task.attributes=[gender]"]).task)
        prep = task.prepare(ds)
        model = _train_a_few_steps(task, prep, 1)
        ev = task.evaluator(prep, TrainConfig())
        valid, test = ev.evaluate(model, "valid"), ev.evaluate(model, "test")
        assert ("probe_f1" in valid) == valid_has_probe and task.monitor in valid
        assert {"gender_acc", "gender_f1", "probe_f1", "recall@20"} <= set(test)
        assert 0.0 <= test["gender_acc"] <= 1.0
        assert "occupation_acc" not in test
        assert set(ev.majority("test")) == {"gender_acc", "gender_f1", "probe_f1"}


def test_profile_without_attributes_is_a_task_error(tmp_path):
    ds, _ = tiny(0)
    with pytest.raises(TaskError, match="task.attributes_path"):
        build_task("profile").prepare(ds)
    task = build_task(load_config(None, ["task.name=profile", f"task.attributes_path={tmp_path / 'no'}"]).task)
    with pytest.raises(TaskError, match="file not found"):
        task.prepare(ds)


@pytest.mark.parametrize("setting", ["task.monitor=f1", "task.attributes=[zip]", "task.valid_fraction=0",
                                     "task.weight_decays=[]"])
def test_bad_profile_keys_are_config_errors(setting):
    with pytest.raises(ConfigError, match=setting.split("=")[0]):
        load_config(None, ["task.name=profile", setting])


def test_ml100k_attributes(shared_data):
    folder = shared_data / "ml-100k"
    if not (folder / "u.user").is_file():
        pytest.skip("../shared/data/ml-100k absent")
    from darts_gnn.data import load_dataset
    cfg = load_config(None, ["data.source=lightgcn", f"data.path={folder / 'split-2020'}"])
    ds = load_dataset(cfg.data)
    a = load_user_attributes(folder / "u.user", ds)
    assert a.known().sum() == 943
    assert len(a.classes["occupation"]) == 21 and len(a.classes["age"]) == 7
    assert a.labels["gender"].sum() == 670 and a.classes["gender"] == ["F", "M"]  # 670 M, 273 F
    assert a.classes["occupation"][a.labels["occupation"][0]] == "technician"  # u.user line 1, user 0


def test_cli_profile_without_attributes_exits_2(tmp_path, capsys):
    from darts_gnn.cli import main
    from helpers import set_args
    sets = ["train.epochs=1", "train.progress=false", "model.dim=8", "task.name=profile"]
    assert main(["train", *set_args(sets), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "task.attributes_path" in err[0]
    assert not (tmp_path / "run").exists()
