"""Docs are code: every fenced block of README.md and docs/*.md is run or checked here.

The rules, by the block's language tag:

* ``python``: executed. The blocks of one page run in order in one temporary folder (so a later
  block may use what an earlier one wrote), with ``configs/`` and ``../shared`` reachable as from the
  repository root. Pages whose blocks need the real data sets skip when ``../shared/data`` is absent.
* ``bash``: every command runs. ``darts-gnn ...`` runs in-process through the CLI and must exit 0;
  ``python -c``/``python <script>`` run as subprocesses. Exceptions, by an HTML comment right above
  the block (invisible on GitHub), from a fixed list:
  ``<!-- doc-test: setup -->`` venv/pip/make/pytest commands: these are what CI's ``.ci/run`` itself
  runs, following the README; ``<!-- doc-test: parse -->`` long runs (benchmarks, full searches):
  their arguments are parsed by the program's own parser, which must accept them, but not run;
  ``<!-- doc-test: gpu -->`` needs a CUDA device: parsed like ``parse``.
* ``yaml``: parsed; a mapping of config sections must load as a config. ``json``: parsed.
* ``console``: like ``bash``; used by pages whose own test also checks each command's exit code.
* ``text``: output, formulas or a command synopsis; not code.

Pages listed in :data:`DEDICATED` have a test module of their own that runs their blocks and checks
what they print or write; here they get the tag, parse and parse-only checks.

An untagged block fails the test: say what it is.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
LANGS = {"python", "bash", "console", "yaml", "json", "text"}
MARKS = {"setup", "parse", "gpu"}
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
MARK = re.compile(r"<!--\s*doc-test:\s*(\w+)\s*-->\s*$")


def blocks(page: Path) -> list[tuple[int, str, str, str | None]]:
    """``(line, language, code, mark)`` of every fenced block of ``page``."""
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.search(before)
        out.append((line, m.group(1), m.group(2), mark.group(1) if mark else None))
    return out


def commands(code: str) -> list[str]:
    """The shell commands of a bash block: comments dropped, ``\\`` continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", code)
    out = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if line:
            out.append(line)
    return out


class _Parsed(Exception):
    """Raised by the patched ``parse_args`` once a program's parser accepted its arguments."""


@contextlib.contextmanager
def _parse_only():
    original = argparse.ArgumentParser.parse_args

    def parse(self, args=None, namespace=None):
        ns = original(self, args, namespace)
        raise _Parsed(ns)

    argparse.ArgumentParser.parse_args = parse
    try:
        yield
    finally:
        argparse.ArgumentParser.parse_args = original


def _parse_command(cmd: str) -> None:
    """Feed ``cmd``'s arguments to its program's parser; fails when the parser rejects them."""
    argv = shlex.split(cmd)
    while argv and "=" in argv[0] and not argv[0].startswith("-"):  # VAR=value prefixes
        argv.pop(0)
    if argv[0] in ("python", "python3"):
        argv = argv[1:]
        if argv[0] == "-m":
            module, args = argv[1], argv[2:]
            if module == "pytest":
                return
            target = ("module", module)
        else:
            target, args = ("path", str(ROOT / argv[0])), argv[1:]
    elif argv[0] == "darts-gnn":
        target, args = ("module", "darts_gnn"), argv[1:]
    elif argv[0] in ("bash", "sh") or argv[0].endswith(".sh"):
        script = argv[1] if argv[0] in ("bash", "sh") else argv[0]
        assert (ROOT / script).is_file(), f"{cmd}: script {script} not found"
        return
    else:
        pytest.fail(f"cannot parse-check {cmd!r}: unknown program")
    old, old_path = sys.argv, list(sys.path)
    sys.argv = [target[1]] + args
    if target[0] == "path":
        sys.path.insert(0, str(Path(target[1]).parent))  # as `python script.py` would
    try:
        with _parse_only(), contextlib.redirect_stdout(io.StringIO()):
            if target[0] == "module":
                runpy.run_module(target[1], run_name="__main__", alter_sys=False)
            else:
                runpy.run_path(target[1], run_name="__main__")
    except _Parsed:
        return
    except SystemExit as e:
        assert not e.code, f"{cmd}: the program's parser rejected its arguments (exit {e.code})"
        return
    finally:
        sys.argv, sys.path[:] = old, old_path
    pytest.fail(f"{cmd}: the program ran without parsing arguments")


def _run_command(cmd: str, cwd: Path) -> None:
    argv = shlex.split(cmd)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    while argv and "=" in argv[0] and not argv[0].startswith("-"):
        k, _, v = argv.pop(0).partition("=")
        env[k] = v
    if argv[0] == "darts-gnn":
        argv = [sys.executable, "-m", "darts_gnn"] + argv[1:]
    elif argv[0] in ("python", "python3"):
        argv = [sys.executable] + [str(ROOT / a) if a.endswith(".py") and (ROOT / a).is_file() else a
                                   for a in argv[1:]]
    else:
        pytest.fail(f"{cmd!r}: only darts-gnn and python commands run in docs tests; mark the block")
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stderr[-2000:]}"


def _workdir(tmp_path: Path) -> Path:
    """A folder laid out like the repository root: ``configs/`` and ``../shared`` reachable."""
    work = tmp_path / "repo"
    work.mkdir()
    (work / "configs").symlink_to(ROOT / "configs")
    (work / "benchmarks").symlink_to(ROOT / "benchmarks")
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED)
    return work


#: Pages whose runnable blocks a test of their own runs (with checks of what they print or write).
DEDICATED = {
    "features.md": "tests/test_features_docs.py",
    "reliability.md": "tests/test_reliability_docs.py",
    "search.md": "tests/test_search_docs.py",
    "serving.md": "tests/test_serve_docs.py",
    "strategies.md": "tests/test_strategies_docs.py",
}


def test_dedicated_doc_tests_exist():
    for page, test in DEDICATED.items():
        assert (ROOT / "docs" / page).is_file() and (ROOT / test).is_file(), (page, test)


def _needs_data(code: str) -> bool:
    return "../shared/data" in code or "shared/data" in code


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_block_is_tagged(page):
    for line, lang, _, mark in blocks(page):
        assert lang in LANGS, (f"{page.name}:{line}: fenced block tagged {lang!r}; tag it as one of "
                               f"{sorted(LANGS)} (text for output and synopses)")
        assert mark is None or mark in MARKS, f"{page.name}:{line}: unknown doc-test mark {mark!r}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_static_blocks_parse(page):
    from darts_gnn.config import Config, config_from_dict
    sections = {f for f in Config.__dataclass_fields__}
    for line, lang, code, _ in blocks(page):
        if lang == "json":
            json.loads(code)
        elif lang == "yaml":
            d = yaml.safe_load(code)
            if isinstance(d, dict) and d and set(d) <= sections:
                config_from_dict(d)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_marked_commands_parse(page):
    for line, lang, code, mark in blocks(page):
        if lang == "bash" and mark in ("parse", "gpu"):
            for cmd in commands(code):
                _parse_command(cmd)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_runs(page, tmp_path, monkeypatch):
    if page.name in DEDICATED:
        pytest.skip(f"run by {DEDICATED[page.name]}")
    runnable = [(line, lang, code) for line, lang, code, mark in blocks(page)
                if (lang == "python") or (lang == "bash" and mark is None)]
    if not runnable:
        pytest.skip("no runnable blocks")
    if any(_needs_data(code) for _, _, code in runnable) and not SHARED.joinpath("data").is_dir():
        pytest.skip("needs ../shared/data")
    work = _workdir(tmp_path)
    monkeypatch.chdir(work)
    import torch
    torch.set_num_threads(1)
    namespace: dict = {"__name__": "__doc_example__"}
    for line, lang, code in runnable:
        if lang == "python":
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
        else:
            for cmd in commands(code):
                _run_command(cmd, work)
