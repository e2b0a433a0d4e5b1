"""Shared pytest fixtures."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

# ../shared/data next to the repository: /work/shared/data here, X/shared/data in CI (clone at X/<repo>).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """Folder of the real data sets (``../shared/data``); tests skip the sets that are absent."""
    return SHARED_DATA


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs with one torch thread (restored after): the test data are tiny, and CI's
    two shared cores gain nothing from threads but oversubscription. Tests about threading set
    their own counts inside."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def fused() -> str:
    """Build/load the extension once per test module; skip fused tests if it cannot be built."""
    from darts_gnn.ops import _extension, backend

    try:
        name = backend()
    except RuntimeError as exc:  # DARTS_GNN_REQUIRE_EXT=1 and the build failed
        pytest.fail(str(exc))
    if name == "reference":
        if _extension.required():
            pytest.fail(f"DARTS_GNN_REQUIRE_EXT is set but the fused extension is unavailable: {_extension.status()}")
        pytest.skip("fused extension unavailable; the reference path is covered by the other tests")
    return name


@pytest.fixture
def evaluated_splits(monkeypatch) -> list:
    """The split of every ``Evaluator.evaluate`` call made during the test, in order (the test set
    must never choose anything)."""
    from darts_gnn.tasks.metrics import Evaluator
    splits: list = []
    orig = Evaluator.evaluate

    def spy(self, model, split="test"):
        splits.append(split)
        return orig(self, model, split)

    monkeypatch.setattr(Evaluator, "evaluate", spy)
    return splits
