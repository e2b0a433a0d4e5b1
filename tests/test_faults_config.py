"""Fault injection, class "config": every bad key or value is one line naming the key, exit code 2,
and no run directory is created."""
from __future__ import annotations

import pytest

from faultkit import cli, sets, tree

CASES = [  # (override, what the message must contain)
    ("train.epochz=1", "unknown key 'train.epochz'"),
    ("bogus.x=1", "unknown key 'bogus'"),
    ("train.epochs=three", "train.epochs: expected an integer"),
    ("train.epochs=2.5", "train.epochs: expected an integer"),
    ("train.epochs=0", "train.epochs: expected a positive integer"),
    ("train.lr=.nan", "train.lr: expected a finite number"),
    ("train.lr=-1e-3", "train.lr: expected a positive number"),
    ("train.progress=yes", "train.progress: expected true or false"),
    ("train.ks=[0]", "train.ks: expected a non-empty list of positive integers"),
    ("train.eval_batch_users=0", "train.eval_batch_users: expected a positive integer"),
    ("train.seed=-1", "train.seed: expected an integer in [0, 2**32)"),
    ("train.num_threads=-2", "train.num_threads"),
    ("train.device=tpu", "train.device: got 'tpu'; allowed values"),
    ("model.name=gat", "model.name: got 'gat'; allowed values: mf, lightgcn, ngcf"),
    ("model.dropout=1.0", "model.dropout: expected a number in [0, 1)"),
    ("model.dim=100000000", "model.dim: expected an integer in [1, 4096]"),
    ("data.seed=-5", "data.seed: expected an integer in [0, 2**32)"),
    ("data.test_fraction=1.5", "data.test_fraction: expected a number in (0, 1)"),
    ("data.synthetic.n_users=0", "data.synthetic.n_users: expected an integer in [2, 10,000,000]"),
    ("data.synthetic.n_items=-3", "data.synthetic.n_items: expected an integer in [2, 10,000,000]"),
    ("data.synthetic.n_users=1e12", "data.synthetic.n_users: expected an integer, got 1000000000000.0"),
    ("data.synthetic.n_items=1000000000000", "data.synthetic.n_items: expected an integer in [2, 10,000,000]"),
    ("data.synthetic.interactions_per_user=0", "data.synthetic.interactions_per_user"),
    ("data.social_base=2", "data.social_base: expected 0, 1 or auto"),
    ("data.delimiter=ab", "data.delimiter"),
    ("data.source=lightgcn", "data.path: required"),
    ("search.checkpoint.every=0", "search.checkpoint.every: expected a positive integer"),
    ("search.tau_schedule=bogus", "search.tau_schedule: expected linear or exp"),
    ("search.guard.iters=0", "search.guard.iters: expected a positive integer"),
    ("search.seed=-1", "search.seed"),
    ("search.tau_min=20", "search.tau_min: expected a positive number <= search.tau_max"),
    ("name=../elsewhere", "name: expected letters, digits"),
    ("train.epochs", "expected key=value"),
]


@pytest.mark.parametrize("override, needle", CASES, ids=[c[0] for c in CASES])
def test_bad_config_value(tmp_path, capsys, override, needle):
    out = tmp_path / "run"
    rc, err = cli(["train", *sets(override), "--out", str(out)], capsys)
    assert rc == 2 and needle in err, err
    assert not out.exists()


FILES = [  # (config file bytes, message)
    (b"train:\n  epochs: 2\n  epochs: 3\n", ":3: not valid YAML (duplicate key 'epochs' (first at line 2))"),
    (b"train:\n  lr: \xff\xfe\n", ":2: not UTF-8 text"),
    (b"train:\n  epochs: [1\n", "not valid YAML"),
    (b"- train\n- model\n", "expected a mapping of sections"),
    (b"train:\n  epochz: 1\n", "unknown key 'train.epochz'"),
]


@pytest.mark.parametrize("text, needle", FILES, ids=["duplicate-key", "not-utf8", "bad-yaml", "list", "unknown"])
def test_bad_config_file(tmp_path, capsys, text, needle):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(text)
    rc, err = cli(["train", "--config", str(cfg), "--out", str(tmp_path / "run")], capsys)
    assert rc == 2 and str(cfg) in err and needle in err, err
    assert tree(tmp_path) == ["c.yaml"]


def test_config_that_never_ends(tmp_path, capsys):
    rc, err = cli(["train", "--config", "/dev/zero", "--out", str(tmp_path / "run")], capsys)
    assert rc == 2 and "/dev/zero: larger than 1 MiB; not a config file" in err and not (tmp_path / "run").exists()


def test_config_path_is_a_directory(tmp_path, capsys):
    rc, err = cli(["train", "--config", str(tmp_path), "--out", str(tmp_path / "run")], capsys)
    assert rc == 2 and "cannot read the config file" in err and str(tmp_path) in err


def test_yaml_1_2_numbers_and_no_1_1_surprises(tmp_path):
    from darts_gnn.config import ConfigError, load_config
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  lr: 1e-3\n  l2: 5E-5\nsearch:\n  arch_lr: .5\n")
    c = load_config(cfg)
    assert (c.train.lr, c.train.l2, c.search.arch_lr) == (1e-3, 5e-5, 0.5)
    for text, needle in [("train:\n  epochs: 1_0\n", "train.epochs: expected an integer, got '1_0'"),
                         ("train:\n  progress: on\n", "train.progress: expected true or false, got 'on'")]:
        cfg.write_text(text)
        with pytest.raises(ConfigError, match=needle):
            load_config(cfg)


GENOTYPES = [  # (genotype.json text, message)
    ('{"version": 1, "width"', "genotype: not valid JSON"),
    ('{"version": 1, "depth": 0, "combine": "last", "layers": []}', "genotype: missing key(s) ['width']"),
    ('{"version": 1, "width": 16, "combine": "last", "layers": [{"aggregator": "sum"}]}', "genotype.layers[0]"),
    ('{"version": 7, "width": 16, "combine": "last", "layers": []}', "version 7 is not supported"),
    ('{"version": 1, "width": 0, "combine": "last", "layers": []}', "genotype width: expected a positive integer"),
]


@pytest.mark.parametrize("text, needle", GENOTYPES, ids=["json", "no-width", "layer-keys", "version", "width-0"])
def test_bad_genotype(tmp_path, capsys, text, needle):
    g = tmp_path / "genotype.json"
    g.write_text(text)
    rc, err = cli(["train", *sets(), "--genotype", str(g), "--out", str(tmp_path / "run")], capsys)
    assert rc == 2 and needle in err, err
    assert not (tmp_path / "run").exists()


def test_bad_search_space_is_refused_before_the_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    rc, err = cli(["search", *sets("search.space={aggregators: [nope]}"), "--out", str(out)], capsys)
    assert rc == 2 and "nope" in err and not out.exists()
