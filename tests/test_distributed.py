"""Data parallel (darts_gnn.distributed): batch sharding, 2 gloo ranks == 1 process, rank-0 run directory.

Tolerance of "the same as one process": the ranks' gradients are summed in another order than one
process sums the rows of a batch, so losses, weights and α agree to 1e-5 relative (float32; measured
differences are ~1e-7); validation metrics, computed in float64 from the gathered per-user values,
agree exactly as long as no ranking flips. Across ranks, weights and α are bit-identical.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import dist_worker
from darts_gnn import distributed
from darts_gnn.data import BPRSampler
from darts_gnn.errors import UserError
from helpers import set_args, tiny

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- batch sharding
@pytest.mark.parametrize("world", [1, 2, 3, 5])
def test_shard_bounds_partition_every_batch(world):
    for n in range(0, 23):
        bounds = [distributed.shard_bounds(n, r, world) for r in range(world)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))       # contiguous, disjoint
        assert max(h - lo for lo, h in bounds) - min(h - lo for lo, h in bounds) <= 1  # balanced


def test_sharded_sampler_union_is_the_single_process_epoch():
    ds, _ = tiny(0, U=40, I=50, n=700)
    world = 3
    full = BPRSampler(ds, 37, seed=5)
    shards = [distributed.ShardedBatches(BPRSampler(ds, 37, seed=5), r, world) for r in range(world)]
    assert all(len(s) == len(full) for s in shards)
    for e in (0, 1):
        for step, parts in enumerate(zip(full.epoch(e), *(s.epoch(e) for s in shards))):
            whole, pieces = parts[0], parts[1:]
            for k in range(3):   # users, positives, negatives: the ranks' slices in order are the batch
                assert torch.equal(torch.cat([p[k] for p in pieces]), whole[k])
        assert step + 1 == len(full)
    # plain iteration advances the epoch like the sampler's own, and the rows of an epoch are covered once
    seen = np.concatenate([torch.stack(b[:2], 1).numpy() for s in shards for b in s])
    assert len(seen) == len(ds.train) and len(np.unique(seen, axis=0)) == len(np.unique(ds.train, axis=0))
    assert all(s.epoch_index == 1 for s in shards)


def test_sharding_composes_with_any_batch_iterable():
    batches = [(torch.arange(5), torch.arange(5) * 10), (torch.arange(1), torch.arange(1))]
    r0 = list(distributed.ShardedBatches(batches, 0, 2))
    r1 = list(distributed.ShardedBatches(batches, 1, 2))
    assert [b[0].tolist() for b in r0] == [[0, 1], []]     # a batch smaller than the world: an empty slice
    assert [b[0].tolist() for b in r1] == [[2, 3, 4], [0]]
    assert [b[1].tolist() for b in r1] == [[20, 30, 40], [0]]
    d = distributed.shard_batch({"users": torch.arange(4), "labels": torch.ones(4)}, 1, 2)
    assert d["users"].tolist() == [2, 3] and d["labels"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="dict of tensors"):
        distributed.shard_batch(("a", "b"), 0, 2)
    with pytest.raises(ValueError, match="different lengths"):
        distributed.shard_batch((torch.arange(3), torch.arange(4)), 0, 2)
    with pytest.raises(ValueError, match="rank 2"):
        distributed.ShardedBatches(batches, 2, 2)


def test_one_process_helpers_are_the_identity():
    src = [1, 2]
    assert distributed.shard_batches(src) is src
    assert distributed.grad_sync() is None and distributed.world_size() == 1 and distributed.is_main()
    assert distributed.agree(True) is True and distributed.shard_range(10) == (0, 10)
    distributed.check_identical([torch.ones(2)])
    rows = {"a": torch.arange(3)}
    assert distributed.gather_rows(rows) is rows


def test_environment_errors_are_one_clear_line(monkeypatch):
    monkeypatch.setenv(distributed.ENV_TIMEOUT, "soon")
    with pytest.raises(UserError, match="DARTS_GNN_DIST_TIMEOUT='soon'"):
        distributed.timeout_seconds()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(UserError, match="RANK, MASTER_ADDR, MASTER_PORT not set"):
        with distributed.session():
            pass


def test_nproc_becomes_a_torchrun_command():
    cmd = distributed.torchrun_command(2, ["train", "--nproc", "2", "--set", "train.epochs=1", "--nproc=2"])
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert cmd[5:] == ["-m", "darts_gnn", "train", "--set", "train.epochs=1"]
    with pytest.raises(UserError, match="--nproc"):
        distributed.torchrun_command(0, [])


# ----------------------------------------------------------------------------- 2 ranks vs 1 process
def _close(a, b, rel=1e-5):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def test_two_gloo_ranks_match_one_process(tmp_path):
    """Trainer, DARTS search (first and second order) and random search on 2 spawned gloo ranks: the
    same losses, metrics, weights, α and candidates' scores as one process with the same global
    batch, and identical weights and α across ranks."""
    single = dist_worker.scenario()
    mp.spawn(dist_worker.worker, args=(2, str(tmp_path / "init"), str(tmp_path / "rank")), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for got in ranks:
        assert all(_close(a, b) for a, b in zip(got["train/loss"], single["train/loss"])), got["train/loss"]
        assert got["train/valid"] == single["train/valid"]
        for order in (1, 2):
            for (t, v), (t1, v1) in zip(got[f"search{order}/loss"], single[f"search{order}/loss"]):
                assert _close(t, t1) and _close(v, v1), (order, t, t1, v, v1)
            assert got[f"search{order}/valid"] == single[f"search{order}/valid"]
            for a, b in zip(got[f"search{order}/alpha"], single[f"search{order}/alpha"]):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
            assert got[f"search{order}/genotype"] == single[f"search{order}/genotype"]
        for a, b in zip(got["train/params"], single["train/params"]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        assert got["random/genotype"] == single["random/genotype"]
        assert all(_close(a, b) for a, b in zip(got["random/scores"], single["random/scores"]))
        assert "differs between ranks: ranks [1]" in got["mismatch_caught"]
    for key in ("train/params", "search1/alpha", "search2/alpha"):   # bit-identical across ranks
        assert all(torch.equal(a, b) for a, b in zip(ranks[0][key], ranks[1][key])), key
    assert single["mismatch_caught"] is False   # one process: nothing to compare


def test_cli_nproc_2_search_writes_one_run_directory(tmp_path):
    """``darts-gnn search --nproc 2``: torchrun, 2 gloo ranks, one run directory (rank 0's); rank 1's
    scratch folder is gone afterwards."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "runs" / "s"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(scratch), "OMP_NUM_THREADS": "1"}
    args = ["search", "--nproc", "2", "--out", str(out)] + set_args(
        ["search.epochs=2", "search.warmup_epochs=0", "search.retrain=false", "search.max_steps_per_epoch=3",
         "search.batch_size=512", "train.progress=false", "train.num_threads=1"])
    proc = subprocess.run([sys.executable, "-m", "darts_gnn", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["s"]
    assert {"genotype.json", "search.json", "search_state.pt", "run.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "run.json").read_text())["status"] == "done"
    assert proc.stdout.count("found architecture:") == 1      # rank 0 prints, rank 1 is quiet
    assert not [p for p in scratch.iterdir() if p.name.startswith("darts-gnn-rank")]
    history = json.loads((out / "search.json").read_text())["history"]
    assert len(history) == 2 and all(np.isfinite(h["loss/valid"]) for h in history)


def _search(args, tmp_path, extra_env=None, pythonpath=(ROOT,)):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath)), "TMPDIR": str(tmp_path),
           "OMP_NUM_THREADS": "1", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "darts_gnn", "search", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


def test_killed_rank_stops_the_job_and_resume_continues(tmp_path):
    """Rank 1 is SIGKILLed after epoch 1: rank 0 stops with one clear line, the run directory is
    'interrupted'; '--resume --nproc 2' finishes it, and its α trajectory is that of an
    uninterrupted one-process search (1e-5 relative)."""
    sets = set_args(["search.epochs=4", "search.warmup_epochs=0", "search.retrain=false", "search.n_layers=1",
                     "search.max_steps_per_epoch=2", "search.batch_size=600", "train.progress=false",
                     "data.synthetic.n_users=120", "data.synthetic.n_items=150"])
    out = tmp_path / "dist"
    killed = _search(["--nproc", "2", "--out", str(out), *sets], tmp_path,
                     {"DISTKILL_RANK": "1", "DISTKILL_EPOCH": "1"}, (ROOT, ROOT / "tests" / "distkill"))
    assert killed.returncode == 137, killed.stderr[-2000:]
    assert "rank 1 of 2 was killed by SIGKILL first" in killed.stderr
    assert "lost the other ranks" in killed.stderr or "interrupted by SIGTERM" in killed.stderr
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "interrupted" and (out / "search_state.pt").is_file()
    resumed = _search(["--resume", str(out), "--nproc", "2"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed the search" in resumed.stderr
    single = _search(["--out", str(tmp_path / "single"), *sets], tmp_path)
    assert single.returncode == 0, single.stderr[-2000:]
    h_dist = json.loads((out / "search.json").read_text())["history"]
    h_one = json.loads((tmp_path / "single" / "search.json").read_text())["history"]
    assert [h["epoch"] for h in h_dist] == [h["epoch"] for h in h_one] == [0, 1, 2, 3]
    for a, b in zip(h_dist, h_one):
        assert _close(a["loss/train"], b["loss/train"]) and _close(a["loss/valid"], b["loss/valid"]), (a, b)
        for key, probs in b["probabilities"].items():
            for name, p in probs.items():
                assert abs(a["probabilities"][key][name] - p) <= 1e-5 * max(abs(p), 1e-3), (key, name)
