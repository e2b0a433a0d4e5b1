"""The HTTP server: endpoints, one-line 4xx for bad requests, cold start, hot reload under load."""
import json
import threading

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from darts_gnn import Graph, LightGCN  # noqa: E402
from darts_gnn.config import Config, config_to_dict  # noqa: E402
from darts_gnn.data import Dataset  # noqa: E402
from darts_gnn.serve import Recommender, build_bundle, export_bundle  # noqa: E402
from darts_gnn.serve.http import create_app  # noqa: E402


def _dataset():
    rng = np.random.default_rng(0)
    pairs = {(u, int(i)) for u in range(30) for i in rng.choice(40, 8, replace=False)}
    train = np.array(sorted(pairs))
    return Dataset("http", 31, 40, train, np.zeros((0, 2)), np.zeros((0, 2)))  # user 30: no interactions


def _bundle_dir(path, seed):
    ds = _dataset()
    graph = Graph.from_dataset(ds, "train")
    torch.manual_seed(seed)
    cfg = Config()
    cfg.model.dim, cfg.model.n_layers = 8, 2
    model = LightGCN(graph, dim=8, n_layers=2)
    return export_bundle(build_bundle(model, ds, graph, config=config_to_dict(cfg)), path)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("http")
    return _bundle_dir(root / "a", 0), _bundle_dir(root / "b", 1)


@pytest.fixture
def client(bundles):
    with TestClient(create_app(bundles[0], max_k=50, max_batch=8, max_body=4096)) as c:
        yield c


def test_health_and_info(client, bundles):
    h = client.get("/health")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    info = client.get("/info").json()
    assert info["version"] == h.json()["version"] == Recommender.load(bundles[0]).version
    assert info["model"]["name"] == "lightgcn" and info["model"]["n_items"] == 40
    assert info["retrieval"] == "exact" and info["limits"] == {"max_k": 50, "max_batch": 8}


def test_get_and_post_match_the_library(client, bundles):
    lib = Recommender.load(bundles[0])
    one = client.get("/recommend", params={"user": "7", "k": 5}).json()
    assert one == {**lib.recommend(["7"], k=5)[0].to_dict(), "version": lib.version}
    batch = client.post("/recommend", json={"users": ["7", 3, "12"], "k": 4}).json()
    assert [r["items"] for r in batch["results"]] == [r.items for r in lib.recommend(["7", "3", "12"], k=4)]
    assert batch["version"] == lib.version


def test_explanations_over_http(client):
    r = client.get("/recommend", params={"user": "2", "k": 3, "explain": 1}).json()
    assert len(r["explanations"]) == 3
    for e, s in zip(r["explanations"], r["scores"]):
        assert e["exact"] is True and e["score"] == pytest.approx(s, rel=1e-4)
        assert e["self"] + sum(c["value"] for c in e["because"]) + e["rest"] == pytest.approx(e["score"])


def test_cold_start_user_is_flagged(client):
    r = client.get("/recommend", params={"user": "30", "k": 5}).json()
    assert r["strategy"] == "popularity" and len(r["items"]) == 5


BAD = [
    ("get", "/recommend", {"params": {"user": "nobody"}}, 404, "unknown user id 'nobody'"),
    ("get", "/recommend", {"params": {"user": "1", "k": 0}}, 400, "k: expected an integer in 1..50"),
    ("get", "/recommend", {"params": {"user": "1", "k": 51}}, 400, "k: expected an integer in 1..50"),
    ("get", "/recommend", {"params": {"user": "1", "k": "ten"}}, 400, "k:"),
    ("get", "/recommend", {"params": {"user": "1", "explain": "maybe"}}, 400, "explain: expected 0 or 1"),
    ("get", "/recommend", {"params": {"k": 3}}, 400, "user:"),
    ("post", "/recommend", {"content": b'{"users": ["1",', "headers": {"content-type": "application/json"}},
     400, "malformed JSON body"),
    ("post", "/recommend", {"json": {"users": "1"}}, 400, "users: expected a non-empty list"),
    ("post", "/recommend", {"json": {"users": []}}, 400, "users: expected a non-empty list"),
    ("post", "/recommend", {"json": {"users": ["1"], "k": "5"}}, 400, "k: expected an integer"),
    ("post", "/recommend", {"json": {"users": ["1"], "colour": 1}}, 400, "body: expected a JSON object"),
    ("post", "/recommend", {"json": {"users": [True]}}, 400, "expected a string or an integer"),
    ("post", "/recommend", {"json": {"users": ["1", "ghost"]}}, 404, "unknown user id 'ghost'"),
    ("post", "/recommend", {"json": {"users": [str(i) for i in range(9)]}}, 413, "the limit is 8"),
    ("post", "/recommend", {"json": {"users": ["1"] * 2000}}, 413, "over the limit of 4096"),
    ("post", "/reload", {"json": {"path": 5}}, 400, "path: expected a string"),
]


@pytest.mark.parametrize("method,url,kwargs,status,message", BAD)
def test_bad_requests_get_a_one_line_4xx(client, method, url, kwargs, status, message):
    r = getattr(client, method)(url, **kwargs)
    assert r.status_code == status
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and message in detail
    assert client.get("/health").status_code == 200  # still up


def test_failed_reload_keeps_serving(client, tmp_path):
    before = client.get("/health").json()["version"]
    r = client.post("/reload", json={"path": str(tmp_path / "nothing")})
    assert r.status_code == 409 and "still serving version " + before in r.json()["detail"]
    assert client.get("/health").json()["version"] == before


def test_hot_reload_drops_no_request(client, bundles):
    va, vb = (Recommender.load(b).version for b in bundles)
    expected = {va: Recommender.load(bundles[0]).recommend(["4"], k=5)[0].items,
                vb: Recommender.load(bundles[1]).recommend(["4"], k=5)[0].items}
    assert expected[va] != expected[vb]
    failures, seen = [], set()
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            r = client.post("/recommend", json={"users": ["4"], "k": 5})
            if r.status_code != 200:
                failures.append(r.status_code)
                continue
            body = r.json()
            seen.add(body["version"])
            if body["results"][0]["items"] != expected.get(body["version"]):
                failures.append("wrong answer")

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for path in (bundles[1], bundles[0], bundles[1]):
            r = client.post("/reload", json={"path": str(path)})
            assert r.status_code == 200, r.text
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures and seen <= {va, vb}
    assert client.get("/health").json()["version"] == vb
    assert json.loads(client.get("/info").text)["reloads"] == 3


def test_watch_picks_up_a_bundle_replaced_on_disk(bundles, tmp_path):
    import time

    from darts_gnn.serve import load_bundle
    live = export_bundle(load_bundle(bundles[0]), tmp_path / "live")
    va, vb = (Recommender.load(b).version for b in bundles)
    with TestClient(create_app(live, watch=0.05)) as c:
        assert c.get("/health").json()["version"] == va
        export_bundle(load_bundle(bundles[1]), live, force=True)
        deadline = time.time() + 20
        while c.get("/health").json()["version"] != vb:
            assert c.get("/recommend", params={"user": "4", "k": 3}).status_code == 200
            assert time.time() < deadline, "the watcher did not reload within 20 s"
            time.sleep(0.05)
        assert c.get("/info").json()["reloads"] >= 1
