"""A search killed by a real signal and resumed with --resume ends where an uninterrupted one does."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from darts_gnn.search.checkpoint import load_search_state
from faultkit import cli_cmd

EPOCHS = 5
SETS = [
    "data.synthetic.n_users=100", "data.synthetic.n_items=140", "data.synthetic.interactions_per_user=10",
    "data.synthetic.n_communities=4", "train.batch_size=256", "train.num_threads=1", "train.progress=false",
    f"search.epochs={EPOCHS}", "search.warmup_epochs=1", "search.n_layers=2", "search.retrain=false",
    "search.relaxation=gumbel", "search.guard.every=2", "search.guard.iters=3", "search.eval_every=0",
    "search.log_every=0",
]


def _cmd(*args, slow=0.0):
    sets = [x for s in SETS for x in ("--set", s)]
    return cli_cmd(*args, *sets, slow=slow)


def _alphas(run: Path) -> dict:
    state = load_search_state(run)
    return {k: v for k, v in state["searcher"]["model"].items() if k.startswith("alpha")}


def _env(**extra):
    # the pure-PyTorch aggregation: no first-use kernel compile inside the time budget, and the three
    # processes cannot pick up different builds of the fused kernel while its sources change
    env = dict(os.environ, DARTS_GNN_NO_EXT="1", **extra)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.parametrize("sig", [signal.SIGKILL], ids=["SIGKILL"])
def test_killed_search_resumes_to_the_same_alpha_and_genotype(tmp_path, sig):
    ref, run = tmp_path / "ref", tmp_path / "run"
    done = subprocess.run(_cmd("search", "--out", str(ref)), env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

    # the same search, slowed down after each checkpoint so that the kill lands midway
    proc = subprocess.Popen(_cmd("search", "--out", str(run), slow=0.4), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        epoch = -1
        while time.monotonic() < deadline and proc.poll() is None:
            if (run / "search_state.pt").is_file():
                epoch = load_search_state(run)["epoch"]
                if epoch >= 2:
                    break
            time.sleep(0.05)
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -sig, proc.stderr.read()[-2000:]
    killed_at = load_search_state(run)["epoch"]
    assert 2 <= killed_at < EPOCHS - 1, killed_at
    assert not (run / "genotype.json").exists()

    done = subprocess.run(_cmd("search", "--resume", str(run)), env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed the search" in done.stderr

    a, b = _alphas(ref), _alphas(run)
    assert a.keys() == b.keys() and len(a) > 0
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6)
    g_ref = json.loads((ref / "genotype.json").read_text())
    g_run = json.loads((run / "genotype.json").read_text())
    assert g_ref == g_run
    hist_ref = json.loads((ref / "search.json").read_text())["history"]
    hist_run = json.loads((run / "search.json").read_text())["history"]
    assert [h["epoch"] for h in hist_run] == list(range(EPOCHS))
    ev_ref = [h.get("hessian/eigenvalue") for h in hist_ref]
    ev_run = [h.get("hessian/eigenvalue") for h in hist_run]
    assert [e is None for e in ev_run] == [e is None for e in ev_ref] and any(e is not None for e in ev_ref)
    assert [e for e in ev_run if e is not None] == pytest.approx([e for e in ev_ref if e is not None],
                                                                 rel=1e-4, abs=1e-8)


def test_resume_errors(tmp_path):
    from darts_gnn.cli import main
    assert main(["search", "--resume", str(tmp_path / "nope")]) == 2
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.yaml").write_text("name: x\n")
    assert main(["search", "--resume", str(tmp_path / "r")]) == 2  # no checkpoint
    assert main(["search", "--resume", str(tmp_path / "r"), "--config", "x.yaml"]) == 2


def _tiny_cfg(tmp_path, *extra):
    from darts_gnn.config import load_config
    sets = [x for x in SETS if not x.startswith(("search.relaxation", "search.hessian"))]
    return load_config(None, sets + ["search.epochs=4", *extra])


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path):
    from darts_gnn.engine.rundir import RunDir
    from darts_gnn.search.checkpoint import SearchDivergedError
    from darts_gnn.pipeline import run_search
    cfg = _tiny_cfg(tmp_path)

    def poison(searcher, epoch, record):  # runs before the checkpoint hook of the same epoch
        if epoch == 2:
            with torch.no_grad():
                searcher.model.user_emb.weight[0, 0] = float("nan")

    run = RunDir(tmp_path / "run")
    with pytest.raises(SearchDivergedError) as info:
        run_search(cfg, run, hooks=[poison], progress=False)
    msg = str(info.value)
    assert "NaN" in msg and "epoch 2" in msg and "last good checkpoint" in msg and "--resume" in msg
    assert load_search_state(run.path)["epoch"] == 1

    # a NaN that shows up in a loss is caught by the searcher's step; the checkpoint is still intact
    # (this poison runs after the checkpoint hook of epoch 1, so the NaN surfaces in epoch 2's loss)
    def poison_loss(searcher, epoch, record):
        if epoch == 1:
            with torch.no_grad():
                for p in searcher.model.weights():
                    p.fill_(float("nan"))
        return False

    run2 = RunDir(tmp_path / "run2")
    from darts_gnn import pipeline
    orig = pipeline.build_searcher

    def build(*a, **kw):
        s = orig(*a, **kw)
        real_run = s.run

        def run_last():
            s.hooks.append(poison_loss)
            return real_run()
        s.run = run_last
        return s

    pipeline.build_searcher = build
    try:
        with pytest.raises(SearchDivergedError) as info:
            run_search(cfg, run2, progress=False)
    finally:
        pipeline.build_searcher = orig
    msg = str(info.value)
    assert "loss is nan at epoch 2" in msg and "last good checkpoint" in msg and "epoch 1" in msg, msg
    state = load_search_state(run2.path)
    assert state["epoch"] == 1
    assert all(bool(torch.isfinite(v).all()) for v in state["searcher"]["model"].values() if v.is_floating_point())


def test_resume_refuses_other_search_settings(tmp_path):
    from darts_gnn.errors import UserError
    from darts_gnn.engine.rundir import RunDir
    from darts_gnn.pipeline import run_search
    cfg = _tiny_cfg(tmp_path, "search.epochs=2")
    run = RunDir(tmp_path / "run")
    run_search(cfg, run, progress=False)
    other = _tiny_cfg(tmp_path, "search.epochs=2", "search.arch_lr=0.1")
    with pytest.raises(UserError, match="search.arch_lr"):
        run_search(other, run, progress=False, resume=True)
    # a finished search resumes to the same result at once
    rep = run_search(cfg, run, progress=False, resume=True)
    assert rep.search.epochs_run == 2
