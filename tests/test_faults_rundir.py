"""Fault injection, classes "run directory", "checkpoint" and "filesystem": occupied, locked, moved and
corrupted run directories, mismatched data, injected filesystem errors and divergence. Each case checks
the exit code, the one-line message and what is on disk afterwards."""
from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from faultkit import cli, sets, tree


@pytest.fixture(scope="module")
def done_run(tmp_path_factory):
    from darts_gnn.cli import main
    run = tmp_path_factory.mktemp("faults") / "done"
    assert main(["train", *sets(), "--out", str(run)]) == 0
    return run


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def _snapshot(path: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


# --------------------------------------------------------------------------- run-directory states

def test_existing_run_is_refused_and_untouched(done_run, tmp_path, capsys):
    run = _copy(done_run, tmp_path / "r")
    before = _snapshot(run)
    rc, err = cli(["train", *sets(), "--out", str(run)], capsys)
    assert rc == 2 and "already holds a run (status done)" in err and "--overwrite" in err
    assert _snapshot(run) == before


def test_overwrite_replaces_the_run(done_run, tmp_path, capsys):
    run = _copy(done_run, tmp_path / "r")
    (run / "old-notes.txt").write_text("x")
    rc, _ = cli(["train", *sets("train.epochs=1"), "--out", str(run), "--overwrite"], capsys)
    assert rc == 0 and not (run / "old-notes.txt").exists()
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 1
    assert json.loads((run / "run.json").read_text())["status"] == "done" and not (run / ".lock").exists()


def test_foreign_directory_is_never_cleared(tmp_path, capsys):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "thesis.tex").write_text("precious")
    rc, err = cli(["train", *sets(), "--out", str(d)], capsys)
    assert rc == 2 and "already holds files (thesis.tex)" in err
    rc, err = cli(["train", *sets(), "--out", str(d), "--overwrite"], capsys)
    assert rc == 2 and "not a darts-gnn run directory" in err
    assert tree(d) == ["thesis.tex"] and (d / "thesis.tex").read_text() == "precious"


def test_empty_directory_is_used(tmp_path, capsys):
    d = tmp_path / "empty"
    d.mkdir()
    rc, _ = cli(["train", *sets(), "--out", str(d)], capsys)
    assert rc == 0 and (d / "model.pt").is_file()


def test_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("keep")
    rc, err = cli(["train", *sets(), "--out", str(f)], capsys)
    assert rc == 2 and "exists and is not a directory" in err and f.read_text() == "keep"


def test_parent_of_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("keep")
    rc, err = cli(["train", *sets(), "--out", str(f / "run")], capsys)
    assert rc == 2 and str(f) in err and "Not a directory" in err and f.read_text() == "keep"


def test_live_lock_is_respected(tmp_path, capsys):
    d = tmp_path / "busy"
    d.mkdir()
    (d / ".lock").write_text(f"{os.getpid()} {os.uname().nodename} 0\n")
    rc, err = cli(["train", *sets(), "--out", str(d)], capsys)
    assert rc == 2 and f"in use by another darts-gnn process (pid {os.getpid()}" in err
    assert tree(d) == [".lock"]


def test_stale_lock_is_taken_over(tmp_path, capsys, caplog):
    d = tmp_path / "stale"
    d.mkdir()
    (d / ".lock").write_text(f"{2**22 + 12345} {os.uname().nodename} 0\n")  # no such pid
    rc, _ = cli(["train", *sets(), "--out", str(d)], capsys)
    assert rc == 0 and "stale lock" in caplog.text and not (d / ".lock").exists()


def test_unfinished_search_is_not_restarted(tmp_path, capsys):
    d = tmp_path / "s"
    d.mkdir()
    (d / "search_state.pt").write_bytes(b"state")
    (d / "config.yaml").write_text("name: s\n")
    (d / "run.json").write_text('{"status": "interrupted"}')
    before = _snapshot(d)
    rc, err = cli(["search", *sets(), "--out", str(d)], capsys)
    assert rc == 2 and "unfinished search (status interrupted)" in err and f"--resume {d}" in err
    assert _snapshot(d) == before


def test_failed_run_without_out_leaves_nothing(tmp_path, capsys, monkeypatch):
    from darts_gnn.engine import train
    monkeypatch.chdir(tmp_path)

    def diverge(self, epoch):
        raise train.TrainingError(f"training loss is nan at epoch {epoch}, batch 1: the model diverged")
    monkeypatch.setattr(train.Trainer, "train_epoch", diverge)
    rc, err = cli(["train", *sets()], capsys)
    assert rc == 3 and "diverged" in err
    assert tree(tmp_path) == [] or tree(tmp_path / "runs") == []


def test_divergence_keeps_the_best_model_and_marks_failed(tmp_path, capsys, monkeypatch):
    from darts_gnn.engine import train
    real = train.Trainer.train_epoch

    def diverge_at_3(self, epoch):
        if epoch == 3:
            raise train.TrainingError("training loss is nan at epoch 3, batch 1: the model diverged; lower train.lr")
        return real(self, epoch)
    monkeypatch.setattr(train.Trainer, "train_epoch", diverge_at_3)
    run = tmp_path / "r"
    rc, err = cli(["train", *sets("train.epochs=5"), "--out", str(run)], capsys)
    assert rc == 3 and "epoch 3" in err and "train.lr" in err
    st = json.loads((run / "run.json").read_text())
    assert st["status"] == "failed" and "diverged" in st["message"]
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["partial"] is True and ckpt["best_epoch"] in (1, 2)
    assert not (run / "metrics.json").exists() and not (run / ".lock").exists()


def test_internal_error_is_one_line_exit_1_and_traceback_with_v(tmp_path, capsys, monkeypatch):
    from darts_gnn.engine import train
    monkeypatch.setattr(train.Trainer, "fit", lambda self: (_ for _ in ()).throw(RuntimeError("boom")))
    rc, err = cli(["train", *sets(), "--out", str(tmp_path / "r")], capsys)
    assert rc == 1 and "internal error (RuntimeError: boom)" in err and "-v" in err
    from darts_gnn.cli import main
    assert main(["-v", "train", *sets(), "--out", str(tmp_path / "r2")]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "r2").exists()


def test_out_of_memory_is_one_line(tmp_path, capsys, monkeypatch):
    from darts_gnn.engine import train

    def oom(self, epoch):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you "
                           "tried to allocate 240000000000 bytes. Error code 12 (Cannot allocate memory)")
    monkeypatch.setattr(train.Trainer, "train_epoch", oom)
    rc, err = cli(["train", *sets(), "--out", str(tmp_path / "r")], capsys)
    assert rc == 2 and "out of memory (you tried to allocate 240000000000 bytes); use a smaller model.dim" in err
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- moved and mismatched runs

def test_moved_run_directory_evaluates(done_run, tmp_path, capsys):
    run = _copy(done_run, tmp_path / "elsewhere" / "moved")
    from darts_gnn.cli import main
    assert main(["evaluate", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["recall@20"] == pytest.approx(json.loads((run / "metrics.json").read_text())["recall@20"], abs=1e-6)


def _lightgcn(d: Path, train: str, test: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "train.txt").write_text(train)
    (d / "test.txt").write_text(test)
    return d


def test_evaluate_refuses_another_data_set(tmp_path, capsys):
    a = _lightgcn(tmp_path / "a", "0 0 1 2\n1 1 2 3\n2 2 3 0\n", "0 3\n1 0\n2 1\n")
    b = _lightgcn(tmp_path / "b", "0 0 1 3\n1 1 2 3\n2 2 3 0\n", "0 2\n1 0\n2 1\n")
    run = tmp_path / "run"
    lg = ["data.source=lightgcn", f"data.path={a}", "data.valid_fraction=0"]
    assert cli(["train", *sets(*lg), "--out", str(run)], capsys)[0] == 0
    cfg = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(cfg.replace(str(a), str(b)))
    rc, err = cli(["evaluate", str(run)], capsys)
    assert rc == 2 and "made from another data set" in err and "training pairs differ" in err
    (run / "config.yaml").write_text(cfg.replace("valid_fraction: 0.0", "valid_fraction: 0.5"))
    rc, err = cli(["evaluate", str(run)], capsys)
    assert rc == 2 and "data.valid_fraction is 0.5 but model.pt was trained with 0.0" in err


def test_evaluate_valid_split_without_validation_data(tmp_path, capsys):
    run = tmp_path / "r"
    assert cli(["train", *sets("data.valid_fraction=0"), "--out", str(run)], capsys)[0] == 0
    rc, err = cli(["evaluate", str(run), "--split", "valid"], capsys)
    assert rc == 2 and "the valid split is empty" in err


# --------------------------------------------------------------------------- corrupted checkpoints

def _flip_in_tensor(path: Path, tensor: torch.Tensor) -> None:
    """Flip one bit inside the stored bytes of ``tensor`` (torch stores tensor data uncompressed)."""
    raw = bytearray(path.read_bytes())
    needle = tensor.contiguous().reshape(-1)[:8].view(torch.uint8).numpy().tobytes()
    at = raw.find(needle)
    assert at > 0
    raw[at + 3] ^= 0x10
    path.write_bytes(bytes(raw))


def test_bit_flipped_model_is_refused(done_run, tmp_path, capsys):
    run = _copy(done_run, tmp_path / "r")
    state = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    _flip_in_tensor(run / "model.pt", next(v for v in state.values() if v.numel() >= 8))
    rc, err = cli(["evaluate", str(run)], capsys)
    assert rc == 2 and "model.pt: the checkpoint is corrupt" in err


@pytest.mark.parametrize("damage, needle", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a readable checkpoint"),
    (lambda p: p.write_bytes(b""), "not a readable checkpoint"),
    (lambda p: p.unlink(), "checkpoint not found"),
    (lambda p: torch.save({"format": 99}, p), "not a darts-gnn checkpoint of format 1"),
], ids=["truncated", "empty", "missing", "other-format"])
def test_damaged_model_is_refused(done_run, tmp_path, capsys, damage, needle):
    run = _copy(done_run, tmp_path / "r")
    damage(run / "model.pt")
    rc, err = cli(["evaluate", str(run)], capsys)
    assert rc == 2 and needle in err


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_malicious_pickle_is_not_executed(done_run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = _copy(done_run, tmp_path / "r")
    torch.save({"format": 1, "x": _Evil()}, run / "model.pt")
    rc, err = cli(["evaluate", str(run)], capsys)
    assert rc == 2 and "not a readable checkpoint" in err and not (tmp_path / "pwned").exists()


@pytest.fixture(scope="module")
def search_run(tmp_path_factory):
    from darts_gnn.cli import main
    from faultkit import SEARCH
    run = tmp_path_factory.mktemp("faults") / "search"
    assert main(["search", *sets(*SEARCH), "--out", str(run)]) == 0
    return run


def test_bit_flipped_search_state_is_not_resumed(search_run, tmp_path, capsys):
    run = _copy(search_run, tmp_path / "s")
    state = torch.load(run / "search_state.pt", weights_only=True)
    alpha = next(v for k, v in state["searcher"]["model"].items() if k.startswith("alpha") and v.numel() >= 2)
    _flip_in_tensor(run / "search_state.pt", alpha if alpha.numel() >= 8 else state["searcher"]["model"]["user_emb.weight"])
    rc, err = cli(["search", "--resume", str(run)], capsys)
    assert rc == 2 and "search_state.pt: the search checkpoint is corrupt" in err


def test_resume_refuses_changed_data(tmp_path, capsys):
    from faultkit import SEARCH
    d = _lightgcn(tmp_path / "d", "0 0 1 2\n1 1 2 3\n2 2 3 0\n3 0 3\n", "0 3\n1 0\n2 1\n3 2\n")
    run = tmp_path / "s"
    args = sets(*SEARCH, "data.source=lightgcn", f"data.path={d}", "data.valid_fraction=0.3")
    assert cli(["search", *args, "--out", str(run)], capsys)[0] == 0
    (d / "train.txt").write_text("0 0 1 3\n1 1 2 3\n2 2 3 0\n3 0 2\n")
    rc, err = cli(["search", "--resume", str(run)], capsys)
    assert rc == 2 and "search checkpoint was made from another data set" in err


# --------------------------------------------------------------------------- filesystem errors

def test_read_only_file_system_at_save(tmp_path, capsys, monkeypatch):
    from darts_gnn.engine import rundir
    real = os.replace

    def ro(src, dst):
        if str(dst).endswith("model.pt"):
            raise OSError(errno.EROFS, "Read-only file system", str(dst))
        return real(src, dst)
    monkeypatch.setattr(rundir.os, "replace", ro)
    run = tmp_path / "r"
    rc, err = cli(["train", *sets(), "--out", str(run)], capsys)
    assert rc == 2 and f"{run / 'model.pt'}: Read-only file system" in err
    assert not run.exists()  # nothing of value was written: no directory left behind


def test_disk_full_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    from darts_gnn.search.checkpoint import load_search_state
    from faultkit import SEARCH
    real_save, calls = torch.save, []

    def full_on_second(obj, f, *a, **kw):
        calls.append(f)
        real_save(obj, f, *a, **kw)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(f))
    monkeypatch.setattr(torch, "save", full_on_second)
    run = tmp_path / "s"
    rc, err = cli(["search", *sets(*SEARCH), "--out", str(run)], capsys)
    assert rc == 2 and "No space left on device" in err
    assert load_search_state(run)["epoch"] == 0  # the checkpoint before the failed write
    assert json.loads((run / "run.json").read_text())["status"] == "failed"
    assert not [n for n in tree(run) if n.endswith(".tmp")] and not (run / ".lock").exists()


def test_output_target_is_a_directory(done_run, tmp_path, capsys):
    (tmp_path / "out.csv").mkdir()
    rc, err = cli(["recommend", str(done_run), "--users", "0", "--output", str(tmp_path / "out.csv")], capsys)
    assert rc == 2 and "out.csv" in err
    assert tree(tmp_path) == ["out.csv"]


# --------------------------------------------------------------------------- what is written

def test_json_is_strict_and_files_follow_the_umask(tmp_path):
    from darts_gnn.engine.rundir import RunDir
    run = RunDir(tmp_path / "r")
    old = os.umask(0o027)
    try:
        p = run.write_json("m.json", {"a": float("nan"), "b": [float("inf"), 1.5]})
    finally:
        os.umask(old)
    assert json.loads(p.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}")) == \
        {"a": None, "b": [None, 1.5]}
    assert p.stat().st_mode & 0o777 == 0o640


def test_run_files_are_sealed(done_run):
    ckpt = torch.load(done_run / "model.pt", weights_only=True)
    m = ckpt["manifest"]
    assert m["format_version"] == 1 and m["kind"] == "model" and len(ckpt["content_sha256"]) == 64
    assert m["dataset"]["train_sha256"] and m["dataset"]["n_users"] == 60
    st = json.loads((done_run / "run.json").read_text())
    assert st["status"] == "done" and st["command"] == "train"
