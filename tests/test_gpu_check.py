"""``benchmarks/gpu_check.sh``: the one-call GPU check, exercised here in its CPU dry run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"
BASH = shutil.which("bash")

pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")


def test_script_parses_and_rejects_bad_usage(tmp_path):
    assert subprocess.run([BASH, "-n", str(SCRIPT)], capture_output=True).returncode == 0
    bad = subprocess.run([BASH, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage: benchmarks/gpu_check.sh [OUT_JSON]" in bad.stderr


@pytest.mark.slow
def test_dry_run_writes_the_report(tmp_path):
    """The whole script on the CPU (~1-2 min): probe, build, the CUDA tests (they skip), a tiny benchmark."""
    out = tmp_path / "sub" / "gpu_check.json"
    env = dict(os.environ, GPU_CHECK_DRY="1", PYTHON=sys.executable)
    result = subprocess.run([BASH, str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["dry_run"] is True and doc["build_ok"] is True and doc["build"]["backend"] == "cpp-cpu"
    assert set(doc["steps"]) == {"probe", "build", "tests", "bench"}
    assert all(s["exit"] == 0 for s in doc["steps"].values())
    tests = doc["tests"]
    assert tests["failures"] == tests["errors"] == 0 and tests["tests"] >= 3
    if doc["cuda_available"] is False:
        assert tests["skipped"] == tests["tests"]  # no GPU here: every CUDA test skips, none is deselected
    rows = doc["bench"]["rows"]
    assert len(rows) == 1 and rows[0]["graph"] == "powerlaw-S" and rows[0]["fused_fwd_ms"] > 0
    assert rows[0]["extras"]["stack"]["stack_fwd_ms"] > 0
    assert not list(out.parent.glob("*.tmp"))


def test_ci_requires_the_extension():
    # issue 8: CI must fail, not skip, when the C++ build breaks
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "export DARTS_GNN_REQUIRE_EXT=1" in ci
