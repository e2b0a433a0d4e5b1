"""``darts-gnn export``, the bundle on disk, and ``darts-gnn recommend`` on runs and bundles."""
import json
import random

import pytest
import torch

from darts_gnn.cli import main
from darts_gnn.store.fingerprint import dataset_fingerprint
from darts_gnn.serve import Recommender, load_bundle
from helpers import set_args

TINY = ["train.epochs=2", "train.eval_every=1", "train.batch_size=256", "train.progress=false",
        "model.dim=8", "model.n_layers=2", "train.num_threads=1"]


def _sets(extra=()):
    return set_args([*TINY, *extra])


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """A run trained on a CSV file with string ids (so the id maps matter)."""
    root = tmp_path_factory.mktemp("export")
    rng = random.Random(0)
    lines = ["user,item"]
    for u in range(40):
        for i in rng.sample(range(50), 10):
            lines.append(f"u{u},m{i:03d}")
    data = root / "inter.csv"
    data.write_text("\n".join(lines) + "\n")
    run = root / "run"
    args = _sets(["data.source=csv", f"data.path={data}", "data.split=random"])
    assert main(["train", *args, "--out", str(run)]) == 0
    model = root / "model"
    assert main(["export", str(run), "--out", str(model)]) == 0
    return root, data, run, model


def test_bundle_files_and_manifest(csv_run):
    root, data, run, model = csv_run
    assert sorted(p.name for p in model.iterdir()) == ["explain.pt", "ids.json", "manifest.json", "tables.pt"]
    m = json.loads((model / "manifest.json").read_text())
    assert m["format"] == 1 and m["model"]["name"] == "lightgcn" and m["model"]["dim"] == 8
    assert m["seen_splits"] == ["train", "valid", "test"]
    assert set(m["files"]) == {"tables.pt", "ids.json", "explain.pt"}
    from darts_gnn.cli.common import load_run
    _, ds, _, _ = load_run(run)
    assert m["dataset"] == dataset_fingerprint(ds)
    tables = torch.load(model / "tables.pt", weights_only=True)
    assert tables["user_emb"].shape == (ds.n_users, 8) and tables["item_emb"].dtype == torch.float32
    assert not [p for p in root.iterdir() if p.name.endswith((".tmp", ".old"))]


def test_bundle_loads_without_the_training_data(csv_run, tmp_path):
    root, data, run, model = csv_run
    before = Recommender.from_run(run).recommend(["u3", "u17"], k=5, explain=True)
    moved = tmp_path / "gone.csv"
    data.rename(moved)
    try:
        rec = Recommender.load(model)
        after = rec.recommend(["u3", "u17"], k=5, explain=True)
    finally:
        moved.rename(data)
    assert [r.items for r in after] == [r.items for r in before]
    assert all(i.startswith("m") for r in after for i in r.items)
    assert [s for r in after for s in r.scores] == [s for r in before for s in r.scores]
    assert after[0].explanations[0]["because"][0]["id"].startswith("m")


def test_tampered_or_foreign_bundles_are_refused(csv_run, tmp_path, capsys):
    import shutil
    _, _, run, model = csv_run
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    with open(copy / "ids.json", "a") as f:
        f.write(" ")
    assert main(["recommend", str(copy), "--users", "u1"]) == 2
    assert "ids.json: SHA-256 differs from the manifest" in capsys.readouterr().err
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(Exception, match="manifest.json: not valid JSON"):
        load_bundle(copy)
    assert main(["recommend", str(tmp_path / "missing"), "--users", "u1"]) == 2
    assert "not found" in capsys.readouterr().err


def test_export_refuses_to_overwrite_without_force(csv_run, capsys):
    _, _, run, model = csv_run
    version = json.loads((model / "manifest.json").read_text())["files"]["tables.pt"]
    assert main(["export", str(run), "--out", str(model)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main(["export", str(run), "--out", str(model), "--force", "--seen", "train,valid"]) == 0
    m = json.loads((model / "manifest.json").read_text())
    assert m["seen_splits"] == ["train", "valid"] and m["files"]["tables.pt"] != version
    assert main(["export", str(run), "--out", str(model), "--force"]) == 0  # same run, same bytes
    assert json.loads((model / "manifest.json").read_text())["files"]["tables.pt"] == version
    assert main(["export", str(run), "--out", str(model) + "2", "--seen", "train,bogus"]) == 2
    assert "--seen: expected a comma-separated subset" in capsys.readouterr().err


def test_recommend_cli_caps_k_and_never_pads_with_seen_items(csv_run, tmp_path, capsys):
    _, _, run, model = csv_run
    rec = Recommender.load(model)
    for src in (run, model):
        out = tmp_path / f"recs-{src.name}.csv"
        assert main(["recommend", str(src), "--users", "u0", "u5", "--k", "500", "--output", str(out)]) == 0
        err = capsys.readouterr().err
        assert "user u0: only" in err and "capped" in err
        rows = [r.split(",") for r in out.read_text().strip().splitlines()[1:]]
        for user in ("u0", "u5"):
            items = [r[2] for r in rows if r[0] == user]
            seen = {rec.bundle.item_ids[i] for i in rec._seen(rec._user_index[user]).tolist()}
            assert len(items) == rec.n_items - len(seen) and not seen & set(items)
    assert main(["recommend", str(model), "--users", "u0", "nobody"]) == 2
    assert "unknown user id 'nobody'" in capsys.readouterr().err


def test_export_of_a_genotype_run_keeps_the_genotype_and_explains_exactly(tmp_path):
    from darts_gnn import Genotype
    g = Genotype(({"aggregator": "gcn", "transform": "identity", "skip": "residual"},
                  {"aggregator": "mean", "transform": "identity", "skip": "none"}), "sum", 8)
    g.save(tmp_path / "genotype.json")
    small = ["data.synthetic.n_users=50", "data.synthetic.n_items=60", "data.synthetic.interactions_per_user=10"]
    assert main(["train", *_sets(small), "--genotype", str(tmp_path / "genotype.json"),
                 "--out", str(tmp_path / "run")]) == 0
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "model")]) == 0
    rec = Recommender.load(tmp_path / "model")
    info = rec.info()
    assert info["model"]["name"] == "genotype" and Genotype.from_dict(info["model"]["genotype"]) == g
    from darts_gnn.cli.common import load_run
    _, ds, _, model = load_run(tmp_path / "run")
    with torch.no_grad():
        u, i = model.embeddings()
    assert torch.equal(rec.user_emb, u) and torch.equal(rec.item_emb, i)  # the network ran once, at export
    r = rec.recommend(["3"], k=4, explain=True)[0]
    parts = rec.explainer().explain(3, [int(x) for x in r.items])
    for e, s in zip(parts, r.scores):
        assert e["exact"] and e["self"] + e["other"] + float(e["values"].sum()) == pytest.approx(e["score"], rel=1e-12)
        assert e["score"] == pytest.approx(s, rel=1e-4)


def test_serve_command_refuses_bad_input_before_listening(csv_run, tmp_path, capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    _, _, run, model = csv_run
    assert main(["serve", str(model), "--port", "70000"]) == 2
    assert "--port: expected 1..65535" in capsys.readouterr().err
    assert main(["serve", str(run), "--port", "8765"]) == 2  # a run directory is not a bundle
    assert "manifest.json not found" in capsys.readouterr().err
