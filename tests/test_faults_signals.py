"""Fault injection, classes "signals" and "concurrent writers": real SIGINT / SIGTERM / SIGKILL sent to
``darts-gnn`` subprocesses at several points, and two processes writing one run directory. Each case
checks the exit code, the one-line message and what is on disk afterwards."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from faultkit import SEARCH, cli, cli_cmd, cli_env, one_error, record, sets

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _start(*args, slow=0.5, mark=None):
    env = cli_env(**({"FAULTKIT_MARK": str(mark)} if mark else {}))
    return subprocess.Popen(cli_cmd(*args, slow=slow), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _marks(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def _wait_for(cond, proc, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _finish(proc, timeout=60):
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def _status(run: Path) -> str:
    return json.loads((run / "run.json").read_text())["status"]


def _epoch(run: Path) -> int:
    from darts_gnn.search.checkpoint import load_search_state
    try:
        return load_search_state(run)["epoch"]
    except Exception:
        return -1


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_interrupted_train_keeps_its_best_model(tmp_path, sig, code):
    run = tmp_path / "r"
    mark = tmp_path / "epochs"
    proc = _start("train", *sets("train.epochs=30"), "--out", str(run), slow=0.3, mark=mark)
    assert _wait_for(lambda: _marks(mark) >= 2, proc)  # two epochs trained, the first validated
    proc.send_signal(sig)
    rc, err = _finish(proc)
    assert rc == code, err[-2000:]
    line = one_error(err)
    record(rc, line)
    assert f"interrupted by {sig.name}" in line and "model.pt holds the best model so far" in line
    assert _status(run) == "interrupted" and not (run / ".lock").exists()
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["partial"] is True and ckpt["best_epoch"] >= 1
    assert not (run / "metrics.json").exists() and not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_interrupted_search_resumes_and_is_not_overwritten(tmp_path, capsys):
    run = tmp_path / "s"
    args = sets(*SEARCH, "search.epochs=8")
    proc = _start("search", *args, "--out", str(run))
    assert _wait_for(lambda: _epoch(run) >= 1, proc)
    proc.send_signal(signal.SIGINT)
    rc, err = _finish(proc)
    assert rc == 130, err[-2000:]
    record(rc, one_error(err))
    assert f"continue with 'darts-gnn search --resume {run}'" in one_error(err)
    assert _status(run) == "interrupted"
    stopped_at = _epoch(run)
    state = (run / "search_state.pt").read_bytes()
    # the follow-up commands run in this process (the same CLI, no second interpreter start-up)
    rc, line = cli(["search", *args, "--out", str(run)], capsys)
    assert rc == 2 and "unfinished search" in line
    assert (run / "search_state.pt").read_bytes() == state
    assert cli(["search", "--resume", str(run)], capsys)[0] == 0
    assert _status(run) == "done" and _epoch(run) == 7 > stopped_at


def test_killed_search_leaves_a_stale_lock_that_resume_takes_over(tmp_path, capsys, caplog):
    run = tmp_path / "s"
    proc = _start("search", *sets(*SEARCH, "search.epochs=6"), "--out", str(run))
    assert _wait_for(lambda: _epoch(run) >= 1, proc)
    proc.send_signal(signal.SIGKILL)
    rc, _ = _finish(proc)
    record(rc, "(killed: no message; the next run takes over the stale lock)")
    assert rc == -signal.SIGKILL
    assert (run / ".lock").is_file() and _status(run) == "running"  # what a kill leaves
    assert cli(["search", "--resume", str(run)], capsys)[0] == 0
    assert "stale lock" in caplog.text and _status(run) == "done" and not (run / ".lock").exists()


def test_second_writer_is_refused_while_the_first_runs(tmp_path):
    run = tmp_path / "s"
    first = _start("search", *sets(*SEARCH, "search.epochs=60"), "--out", str(run))
    try:
        assert _wait_for(lambda: (run / "run.json").is_file(), first)
        second = subprocess.run(cli_cmd("search", *sets(*SEARCH), "--out", str(run), "--overwrite"),
                                env=cli_env(), capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        record(2, one_error(second.stderr))
        assert f"in use by another darts-gnn process (pid {first.pid}" in one_error(second.stderr)
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGTERM)
    rc, err = _finish(first)
    assert rc == 143, err[-2000:]
    record(rc, one_error(err))
    events = [p for p in run.iterdir() if p.name.startswith("events.out.tfevents")]
    assert len(events) == 1 and json.loads((run / "run.json").read_text())["pid"] == first.pid


# --------------------------------------------------------------------------- the same, injected in-process

def _raise_at(target, name, exc, when):
    real = getattr(target, name)

    def wrapped(self, *a, **kw):
        if when(*a):
            raise exc
        return real(self, *a, **kw)
    return wrapped


def test_sigint_before_the_first_epoch_leaves_nothing(tmp_path, capsys, monkeypatch):
    from darts_gnn.engine import train
    monkeypatch.setattr(train.Trainer, "train_epoch",
                        _raise_at(train.Trainer, "train_epoch", KeyboardInterrupt(), lambda epoch: epoch == 1))
    rc, line = cli(["train", *sets(), "--out", str(tmp_path / "r")], capsys)
    assert rc == 130 and line == "darts-gnn: error: interrupted by SIGINT"  # no hint: nothing to resume
    assert not (tmp_path / "r").exists()


def test_sigterm_during_the_test_evaluation_keeps_the_trained_model(tmp_path, capsys, monkeypatch):
    from darts_gnn.tasks import metrics
    from darts_gnn.errors import Interrupted
    monkeypatch.setattr(metrics.Evaluator, "evaluate", _raise_at(metrics.Evaluator, "evaluate",
                                                                 Interrupted(signal.SIGTERM),
                                                                 lambda model, split="test", *a: split == "test"))
    run = tmp_path / "r"
    rc, line = cli(["train", *sets(), "--out", str(run)], capsys)
    assert rc == 143 and "interrupted by SIGTERM" in line and "model.pt holds the best model" in line
    assert _status(run) == "interrupted" and not (run / "metrics.json").exists()
    assert "partial" not in torch.load(run / "model.pt", weights_only=True)  # training had finished


def test_sigterm_between_search_epochs_is_resumable(tmp_path, capsys, monkeypatch):
    from darts_gnn.errors import Interrupted
    from darts_gnn.search import checkpoint
    real = checkpoint.CheckpointHook.__call__

    def stop_after_epoch_1(self, searcher, epoch, record):
        out = real(self, searcher, epoch, record)
        if epoch == 1:
            raise Interrupted(signal.SIGTERM)
        return out
    monkeypatch.setattr(checkpoint.CheckpointHook, "__call__", stop_after_epoch_1)
    run = tmp_path / "s"
    rc, line = cli(["search", *sets(*SEARCH), "--out", str(run)], capsys)
    assert rc == 143 and f"--resume {run}" in line
    assert _status(run) == "interrupted" and _epoch(run) == 1 and not (run / "genotype.json").exists()
    monkeypatch.setattr(checkpoint.CheckpointHook, "__call__", real)
    assert cli(["search", "--resume", str(run)], capsys)[0] == 0
    assert _status(run) == "done" and (run / "genotype.json").is_file()


def test_closed_output_pipe_stops_quietly(tmp_path):
    """`darts-gnn ... | head -1`: the reader goes away; no traceback, no error line, exit 141."""
    code = ("import sys\nfrom darts_gnn.cli import main\n"
            "class Closed:\n    def write(self, s):\n        raise BrokenPipeError(32, 'Broken pipe')\n"
            "    def flush(self):\n        pass\n"
            "sys.stdout = Closed()\nsys.exit(main(['train', '--set', 'train.epochs=1', '--set', 'train.progress=false',"
            f" '--set', 'model.dim=8', '--out', {str(tmp_path / 'r')!r}]))\n")
    r = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=120)
    record(r.returncode, "(no message: the reader of stdout is gone)")
    assert r.returncode == 141 and "Traceback" not in r.stderr and "darts-gnn: error" not in r.stderr, r.stderr[-2000:]
    assert json.loads((tmp_path / "r" / "run.json").read_text())["status"] == "done"  # the run itself finished
