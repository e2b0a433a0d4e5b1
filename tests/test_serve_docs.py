"""Every command and code block of docs/serving.md runs as written (in a temporary folder)."""
import http.client
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from darts_gnn.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "serving.md"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    import os
    path = tmp_path_factory.mktemp("serving_docs")
    old, threads = os.getcwd(), torch.get_num_threads()
    os.chdir(path)
    torch.set_num_threads(1)
    try:
        for line in _blocks("bash")[0].strip().splitlines():
            argv = shlex.split(line)
            assert argv[0] == "darts-gnn" and main(argv[1:]) == 0, line
        yield path
    finally:
        os.chdir(old)
        torch.set_num_threads(threads)


def test_doc_has_its_blocks():
    assert len(_blocks("bash")) == 2 and len(_blocks("python")) == 2


def test_cli_block_wrote_a_bundle(workdir):
    assert (workdir / "models" / "demo" / "manifest.json").is_file()


@pytest.mark.parametrize("index", range(2))
def test_python_blocks_run(workdir, index, capsys):
    if index == 1:
        pytest.importorskip("fastapi")
        pytest.importorskip("httpx")
    exec(compile(_blocks("python")[index], f"{DOC.name}[python {index}]", "exec"), {"__name__": "doc_example"})
    assert capsys.readouterr().out.strip()


def test_serve_command_starts_and_answers(workdir):
    pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    [line] = _blocks("bash")[1].strip().splitlines()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = shlex.split(line.replace("--port 8000", f"--port {port}"))
    assert argv[:2] == ["darts-gnn", "serve"]
    proc = subprocess.Popen([sys.executable, "-m", "darts_gnn", *argv[1:]], cwd=workdir,
                            env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None, "darts-gnn serve exited"
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/recommend?user=0&k=4")
                r = c.getresponse()
                break
            except OSError:
                assert time.time() < deadline, "no answer from darts-gnn serve in 60 s"
                time.sleep(0.3)
        assert r.status == 200 and b'"strategy":"model"' in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
