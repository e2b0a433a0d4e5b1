"""Shared pytest fixtures."""
from __future__ import annotations

from pathlib import Path

import pytest

# ../shared/data next to the repository: /work/shared/data here, X/shared/data in CI (clone at X/<repo>).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """Folder of the real data sets (``../shared/data``); tests skip the sets that are absent."""
    return SHARED_DATA
