"""Loopback load test of ``darts-gnn serve``: throughput and latency percentiles, checked answers.

For each data set (a Gowalla-size model: random d=64 embeddings of the real shape, 29,858 x 40,981,
with the seen items of ``gowalla/train.txt``; an ml-100k LightGCN trained for a few epochs) and each
server (``exact``, ``ann`` = faiss HNSW, ``pyg`` = a plain FastAPI endpoint calling PyG's
``LightGCN.recommend`` on the same final embeddings), it sends single ``GET /recommend`` and batched
``POST /recommend`` requests at several concurrency levels, each cell bounded by a request count and a
time limit, and checks every answer: ``exact`` must equal the library's lists, ``ann`` must hold no
seen item (its recall against exact is reported), ``pyg`` is counted for lists that hold seen items.
Then it sends the bad requests of the table in docs/serving.md and prints status and reason.

    python benchmarks/bench_serve.py                     # both data sets, concurrency 1 4 16
    python benchmarks/bench_serve.py --quick             # ml-100k only, few requests (smoke)

Only 127.0.0.1 is used. Servers run as subprocesses with one torch thread (one faiss thread).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import darts_gnn  # noqa: E402,F401  (first: OMP_WAIT_POLICY)
import numpy as np  # noqa: E402
import torch  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SERVERS = ("exact", "ann", "pyg")


# ---------------------------------------------------------------------------------------- bundles
def gowalla_bundle(out: Path) -> Path:
    """Random N(0, 0.1^2) d=64 tables of Gowalla's shape; seen items = gowalla/train.txt."""
    from darts_gnn.config import Config, config_to_dict
    from darts_gnn.data import Dataset
    from darts_gnn.data.loaders import read_lightgcn
    from darts_gnn.nn import MF
    from darts_gnn.serve import build_bundle, export_bundle
    inter = read_lightgcn(DATA / "gowalla" / "train.txt")
    pairs = np.stack([inter.users, inter.items], 1).astype(np.int64)
    pairs = np.unique(pairs, axis=0)
    ds = Dataset("gowalla-random", 29858, 40981, pairs, np.zeros((0, 2)), np.zeros((0, 2)))
    torch.manual_seed(0)
    cfg = Config()
    cfg.model.name = "mf"
    return export_bundle(build_bundle(MF(ds.n_users, ds.n_items, 64), ds, None, config=config_to_dict(cfg),
                                      seen_splits=("train",), explain=False), out)


def ml100k_bundle(out: Path, epochs: int) -> Path:
    from darts_gnn.cli import main
    from darts_gnn.serve import bundle_from_run, export_bundle
    run = out.parent / "ml100k-run"
    sets = [f"data.path={DATA / 'ml-100k' / 'split-2020'}", f"train.epochs={epochs}", "train.progress=false",
            "train.num_threads=1", f"train.eval_every={epochs}"]
    argv = ["train", "--config", str(ROOT / "configs" / "ml100k.yaml"), "--out", str(run)]
    for s in sets:
        argv += ["--set", s]
    if main(argv) != 0:
        raise SystemExit("ml-100k training failed")
    return export_bundle(bundle_from_run(run), out)


# ---------------------------------------------------------------------------------------- servers
def pyg_app(model_dir: str):
    """What a user would write with PyG: LightGCN(num_layers=0) over the final embeddings."""
    from fastapi import Body, FastAPI
    from torch_geometric.nn.models import LightGCN as PyGLightGCN

    from darts_gnn.serve import load_bundle
    b = load_bundle(model_dir)
    U, I = b.n_users, b.n_items
    model = PyGLightGCN(U + I, b.user_emb.size(1), num_layers=0)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.cat([b.user_emb, b.item_emb]))
    model.eval()
    uid = {s: i for i, s in enumerate(b.user_ids)}
    edge_index = torch.zeros(2, 0, dtype=torch.long)
    items = torch.arange(U, U + I)
    app = FastAPI()

    def top(users: list, k: int) -> list[dict]:
        with torch.no_grad():
            idx = model.recommend(edge_index, src_index=torch.tensor([uid[str(u)] for u in users]),
                                  dst_index=items, k=k) - U
        return [{"user": str(u), "items": [b.item_ids[i] for i in row]} for u, row in zip(users, idx.tolist())]

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/recommend")
    def one(user: str, k: int = 10):
        return top([user], k)[0]

    @app.post("/recommend")
    def batch(body: dict = Body(...)):  # noqa: B008
        return {"results": top(body["users"], body.get("k", 10))}
    return app


def serve_main(kind: str, model_dir: str, port: int) -> None:
    import uvicorn
    torch.set_num_threads(1)
    if kind == "pyg":
        app = pyg_app(model_dir)
    else:
        from darts_gnn.serve.http import create_app
        if kind == "ann":
            import faiss
            faiss.omp_set_num_threads(1)
        app = create_app(model_dir, ann=kind == "ann", max_batch=1000)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kind: str, model_dir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, __file__, "--_server", kind, str(model_dir), str(port)], env=env)
    deadline = time.time() + 600  # the ann server builds its HNSW index first
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{kind} server exited with code {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{kind} server did not answer /health in 600 s")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MiB, from /proc."""
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, v = line.split(":")
            vals[key] = int(v.split()[0]) / 1024
    return vals.get("VmRSS", float("nan")), vals.get("VmHWM", float("nan"))


# ---------------------------------------------------------------------------------------- client
def load(port: int, requests: list[tuple[str, str, bytes | None]], concurrency: int, time_limit: float) -> list:
    """Send ``requests`` (method, path, body) with ``concurrency`` keep-alive connections; stop early at
    ``time_limit`` s. Returns ``(index, latency_s, status, body)`` per request sent."""
    out, lock, nxt = [], threading.Lock(), [0]
    deadline = time.perf_counter() + time_limit

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(requests) or time.perf_counter() > deadline:
                break
            method, path, body = requests[i]
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
                r = conn.getresponse()
                data, status = r.read(), r.status
            except OSError as e:
                data, status = str(e).encode(), -1
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            lat = time.perf_counter() - t0
            with lock:
                out.append((i, lat, status, data))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out, time.perf_counter() - t0


def check(kind: str, results: list, batches: list[list[str]], expected: dict, seen: dict) -> dict:
    """Count failures (non-200) and wrong answers; for ann, recall against exact; for pyg, seen items."""
    failed = wrong = lists = seen_lists = 0
    hits = total = 0
    for i, _, status, data in results:
        if status != 200:
            failed += 1
            continue
        body = json.loads(data)
        recs = body["results"] if "results" in body else [body]
        for user, r in zip(batches[i], recs):
            lists += 1
            exp = expected[user]
            has_seen = bool(seen[user] & set(r["items"]))
            if kind == "exact":
                wrong += r["items"] != exp or r["user"] != user
            elif kind == "ann":
                wrong += has_seen or len(r["items"]) != len(exp) or r["user"] != user
            else:
                seen_lists += has_seen
            hits += len(set(r["items"]) & set(exp))
            total += len(exp)
    return {"failed": failed, "wrong": wrong, "lists": lists, "recall_vs_exact": hits / max(1, total),
            "lists_with_seen_items": seen_lists}


def run_cells(name: str, model_dir: Path, args, rng: np.random.Generator) -> list[dict]:
    from darts_gnn.serve import Recommender
    rec = Recommender.load(model_dir)
    users = [rec.bundle.user_ids[i] for i in rng.choice(rec.n_users, size=min(rec.n_users, args.pool), replace=False)]
    t0 = time.perf_counter()
    expected = {r.user: r.items for r in rec.recommend(users, k=args.k)}
    print(f"[{name}] expected lists of {len(users)} users computed in {time.perf_counter() - t0:.1f} s", flush=True)
    seen = {u: {rec.bundle.item_ids[i] for i in rec._seen(rec._user_index[u]).tolist()} for u in users}
    rows = []
    for kind in args.servers:
        t0 = time.perf_counter()
        proc, port = start_server(kind, model_dir)
        print(f"[{name}] {kind} server up in {time.perf_counter() - t0:.1f} s", flush=True)
        try:
            for mode in ("single", "batch"):
                for conc in args.concurrency:
                    n = args.requests if mode == "single" else args.batch_requests
                    if mode == "single":
                        batches = [[users[int(j)]] for j in rng.integers(0, len(users), n)]
                        reqs = [("GET", f"/recommend?user={b[0]}&k={args.k}", None) for b in batches]
                    else:
                        batches = [[users[int(j)] for j in rng.integers(0, len(users), args.batch_size)] for _ in range(n)]
                        reqs = [("POST", "/recommend", json.dumps({"users": b, "k": args.k}).encode()) for b in batches]
                    res, wall = load(port, reqs, conc, args.time_limit)
                    lat = np.array([r[1] for r in res]) * 1000
                    c = check(kind, res, batches, expected, seen)
                    cur, peak = rss_mb(proc.pid)
                    row = {"dataset": name, "server": kind, "mode": mode, "batch": 1 if mode == "single" else args.batch_size,
                           "concurrency": conc, "sent": len(res), "req_per_s": len(res) / wall,
                           "users_per_s": c["lists"] / wall, "p50_ms": float(np.percentile(lat, 50)),
                           "p95_ms": float(np.percentile(lat, 95)), "p99_ms": float(np.percentile(lat, 99)),
                           "rss_mb": cur, "peak_rss_mb": peak, **c}
                    rows.append(row)
                    print(fmt_row(row), flush=True)
            if kind == "exact":
                res, _ = load(port, [("GET", "/info", None)], 1, 30)
                print(f"[{name}] exact server: {json.loads(res[0][3])['rescored_blocks']} small blocks re-scored "
                      f"as padded blocks (near ties)", flush=True)
                rows.append(reload_cell(name, port, proc, users, expected, seen, args, rng))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return rows


def reload_cell(name, port, proc, users, expected, seen, args, rng) -> dict:
    """Single requests at concurrency 4 while another connection POSTs /reload every 0.2 s."""
    batches = [[users[int(j)]] for j in rng.integers(0, len(users), args.requests)]
    reqs = [("GET", f"/recommend?user={b[0]}&k={args.k}", None) for b in batches]
    stop, reloads = threading.Event(), []

    def reloader():
        while not stop.wait(0.2):
            res, _ = load(port, [("POST", "/reload", b"{}")], 1, 60)
            reloads.append(res[0][2])

    t = threading.Thread(target=reloader)
    t.start()
    try:
        res, wall = load(port, reqs, 4, args.time_limit)
    finally:
        stop.set()
        t.join()
    lat = np.array([r[1] for r in res]) * 1000
    c = check("exact", res, batches, expected, seen)
    cur, peak = rss_mb(proc.pid)
    row = {"dataset": name, "server": f"exact + {len(reloads)} reloads ({sum(s != 200 for s in reloads)} failed)",
           "mode": "single", "batch": 1, "concurrency": 4, "sent": len(res), "req_per_s": len(res) / wall,
           "users_per_s": c["lists"] / wall, "p50_ms": float(np.percentile(lat, 50)),
           "p95_ms": float(np.percentile(lat, 95)), "p99_ms": float(np.percentile(lat, 99)),
           "rss_mb": cur, "peak_rss_mb": peak, **c}
    print(fmt_row(row), flush=True)
    return row


HEAD = ("| data | server | request | conc. | sent | req/s | users/s | p50 ms | p95 ms | p99 ms | failed | wrong "
        "| recall vs exact | lists with seen items | server RSS MiB (peak) |")


def fmt_row(r: dict) -> str:
    req = "GET 1 user" if r["mode"] == "single" else f"POST {r['batch']} users"
    return (f"| {r['dataset']} | {r['server']} | {req} | {r['concurrency']} | {r['sent']} | {r['req_per_s']:.0f} | "
            f"{r['users_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['failed']} | "
            f"{r['wrong'] if r['server'] != 'pyg' else '-'} | {r['recall_vs_exact']:.3f} | {r['lists_with_seen_items']}/{r['lists']} | "
            f"{r['rss_mb']:.0f} ({r['peak_rss_mb']:.0f}) |")


BAD = [
    ("GET", "/recommend?user=nobody&k=10", None),
    ("GET", "/recommend?user=1&k=0", None),
    ("GET", "/recommend?user=1&k=100000", None),
    ("GET", "/recommend?user=1&k=ten", None),
    ("GET", "/recommend?k=10", None),
    ("GET", "/recommend?user=1&explain=maybe", None),
    ("POST", "/recommend", b'{"users": ["1",'),
    ("POST", "/recommend", b'{"users": "1"}'),
    ("POST", "/recommend", json.dumps({"users": ["1"] * 1001}).encode()),
    ("POST", "/recommend", json.dumps({"users": ["1"] * 300000}).encode()),
    ("POST", "/reload", json.dumps({"path": "/nonexistent"}).encode()),
]


def bad_requests(model_dir: Path) -> list[dict]:
    proc, port = start_server("exact", model_dir)
    rows = []
    try:
        for method, path, body in BAD:
            res, _ = load(port, [(method, path, body)], 1, 30)
            _, _, status, data = res[0]
            shown = body.decode()[:40] + ("..." if len(body) > 40 else "") if body else ""
            rows.append({"request": f"{method} {path} {shown}".strip(), "status": status,
                         "detail": json.loads(data)["detail"]})
        res, _ = load(port, [("GET", "/health", None)], 1, 30)
        rows.append({"request": "GET /health (afterwards)", "status": res[0][2], "detail": json.loads(res[0][3])["status"]})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["gowalla", "ml-100k"], choices=["gowalla", "ml-100k"])
    p.add_argument("--servers", nargs="+", default=list(SERVERS), choices=SERVERS)
    p.add_argument("--concurrency", nargs="+", type=int, default=[1, 4, 16])
    p.add_argument("--requests", type=int, default=300, help="single-user requests per cell")
    p.add_argument("--batch-requests", type=int, default=40, help="batched requests per cell")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--pool", type=int, default=2000, help="distinct users the requests draw from")
    p.add_argument("--time-limit", type=float, default=10.0, help="seconds per cell at most")
    p.add_argument("--epochs", type=int, default=5, help="ml-100k training epochs")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "serve.json"))
    args = p.parse_args()
    if args.quick:
        args.datasets, args.concurrency, args.requests, args.batch_requests = ["ml-100k"], [1, 4], 40, 8
        args.epochs, args.time_limit = 1, 5.0
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows, bad = [], []
    with tempfile.TemporaryDirectory(prefix="bench_serve.") as tmp:
        for name in args.datasets:
            if not (DATA / ("gowalla" if name == "gowalla" else "ml-100k")).is_dir():
                print(f"[{name}] data not found under {DATA}: skipped")
                continue
            t0 = time.perf_counter()
            d = gowalla_bundle(Path(tmp) / name) if name == "gowalla" else ml100k_bundle(Path(tmp) / name, args.epochs)
            print(f"[{name}] bundle ready in {time.perf_counter() - t0:.1f} s", flush=True)
            rows += run_cells(name, d, args, rng)
            if not bad:
                bad = bad_requests(d)
    print("\n" + HEAD)
    print("|" + "---|" * (HEAD.count("|") - 1))
    for r in rows:
        print(fmt_row(r))
    print("\n| bad request | status | detail |\n|---|---|---|")
    for b in bad:
        print(f"| `{b['request']}` | {b['status']} | {b['detail']} |")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"cells": rows, "bad_requests": bad, "args": vars(args)}, indent=1))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--_server":
        serve_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
