"""Locating `../shared` (data and model files that are never copied into the repository).

Tests call `shared_path(...)`, which skips the test with a clear reason where the file is
absent, so a plain clone elsewhere still passes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_ROOT = Path(os.environ.get("SHARED_DIR", REPO_ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared, or skip the calling test naming what is missing."""
    path = SHARED_ROOT.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is absent (see ../shared/README.md)")
    return path
