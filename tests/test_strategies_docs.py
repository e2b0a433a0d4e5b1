"""The code blocks of docs/strategies.md (and the random-search example of docs/robust_search.md) run
as written, and what they print is checked."""
import re
import shlex
from pathlib import Path

from darts_gnn.registries import STRATEGIES

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _blocks(name: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / name).read_text(), flags=re.S)


def test_adding_a_strategy_example_runs(capsys):
    (block,) = _blocks("strategies.md", "python")
    try:
        exec(compile(block, "strategies.md", "exec"), {"__name__": "doc_example"})
    finally:
        STRATEGIES.unregister("hillclimb")
    summary, epochs, n = capsys.readouterr().out.strip().rsplit(" ", 2)
    assert summary.startswith("w") and int(epochs) == int(n) == 3  # one epoch per distinct candidate


def test_yaml_section_of_the_doc_loads(tmp_path):
    from darts_gnn.config import load_config
    (block,) = _blocks("strategies.md", "yaml")
    (tmp_path / "c.yaml").write_text(block)
    assert load_config(tmp_path / "c.yaml").search.relaxation["tau_max"] == 5.0


def test_search_command_of_the_doc_runs(tmp_path, monkeypatch, capsys):
    from darts_gnn.cli import main
    (block,) = _blocks("strategies.md", "bash")
    argv = shlex.split(block.strip())
    assert argv[0] == "darts-gnn"
    monkeypatch.chdir(tmp_path)
    assert main(argv[1:] + ["--set", "train.num_threads=1"]) == 0
    assert "found architecture" in capsys.readouterr().out
    assert (tmp_path / "runs" / "doc-evolution" / "search.json").is_file()


def test_random_search_example_of_robust_search_runs(capsys):
    block = next(b for b in _blocks("robust_search.md", "python") if "random_search(" in b)
    exec(compile(block, "robust_search.md", "exec"), {"__name__": "doc_example"})
    summary, recall, epochs = capsys.readouterr().out.strip().rsplit(" ", 2)
    assert 0.0 <= float(recall) <= 1.0 and int(epochs) == 8
