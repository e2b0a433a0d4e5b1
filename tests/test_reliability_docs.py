"""The commands in docs/reliability.md run as written and exit with the code their comment states."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"


def _commands() -> list[tuple[list[str], int | None]]:
    out = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(), flags=re.S):
        for line in block.strip().splitlines():
            cmd, _, comment = line.partition("#")
            m = re.search(r"exit (\d+)", comment)
            out.append((shlex.split(cmd), int(m.group(1)) if m else None))
    return out


def test_cli_lines_exit_as_documented(tmp_path, monkeypatch, capsys):
    from darts_gnn.cli import main
    monkeypatch.chdir(tmp_path)
    lines = [(argv, code) for argv, code in _commands() if argv[0] == "darts-gnn"]
    assert len(lines) >= 5
    for argv, code in lines:
        assert main(argv[1:]) == code, argv
    assert (tmp_path / "demo" / "model.pt").is_file() and not (tmp_path / "other").exists()


def test_fault_table_command_runs(tmp_path):
    (argv, _), = [(a, c) for a, c in _commands() if a[:2] == ["python", "benchmarks/fault_table.py"]]
    out = tmp_path / "table.md"
    argv = [sys.executable, *argv[1:-1], str(out), "-k", "json_is_strict or test_out_is_a_file"]  # two cases
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    text = out.read_text()
    assert "**2 cases tried, 2 handled.**" in text and "exists and is not a directory" in text
