import pytest

from darts_gnn.config import Config, ConfigError, apply_overrides, config_from_dict, config_to_dict, load_config


def test_defaults_round_trip():
    cfg = load_config(None)
    assert isinstance(cfg, Config)
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_overrides_are_typed():
    cfg = load_config(None, ["train.epochs=7", "train.lr=0.01", "train.ks=[10, 20]", "model.name=mf"])
    assert cfg.train.epochs == 7 and cfg.train.lr == 0.01 and cfg.train.ks == [10, 20]
    assert cfg.model.name == "mf"


def test_int_is_accepted_for_float():
    assert load_config(None, ["train.lr=1"]).train.lr == 1.0


@pytest.mark.parametrize("override, needle", [
    ("train.epochz=3", "unknown key 'train.epochz'"),
    ("bogus.x=1", "unknown key 'bogus'"),
    ("train.epochs=three", "train.epochs: expected an integer"),
    ("train.epochs=2.5", "train.epochs: expected an integer"),
    ("train.lr=.nan", "train.lr: expected a finite number"),
    ("model.name=gat", "allowed values: mf, lightgcn, ngcf"),
    ("train.batch_size=0", "train.batch_size: expected a positive integer"),
    ("data.test_fraction=1.5", "data.test_fraction"),
    ("data.source=lightgcn", "data.path: required"),
    ("train.progress=yes please", "expected true or false"),
])
def test_bad_values_name_the_key(override, needle):
    with pytest.raises(ConfigError, match=None) as e:
        load_config(None, [override])
    assert needle in str(e.value)


def test_override_needs_equals():
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["train.epochs"])


def test_yaml_errors_name_the_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  epochs: [1\n")
    with pytest.raises(ConfigError, match=str(p)):
        load_config(p)
    p.write_text("train:\n  epochz: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'train.epochz'"):
        load_config(p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_shipped_configs_load():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "configs"
    files = sorted(root.glob("*.yaml"))
    assert files, "no configs shipped"
    for f in files:
        load_config(f)
