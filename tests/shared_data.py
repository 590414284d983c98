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


def built_models_root() -> Path:
    """The folder `make models` built (FACE_MODELS_DIR), or skip the calling test."""
    # imported here: most callers of this module need no onnxruntime
    from models.manifest import MANIFEST_NAME
    from models.runtime import models_dir_from_env

    root = models_dir_from_env()
    if not (root / MANIFEST_NAME).is_file():
        pytest.skip(f"{root / MANIFEST_NAME} is missing; run `make models` first")
    return root


def ident20_people() -> dict[str, list[Path]]:
    """The 20 people of ../shared/data/lfw-ident20 (alphabetical, lower-case ids), each
    with their images sorted by name; skips the calling test where the set is absent."""
    root = shared_path("data", "lfw-ident20")
    return {d.name.lower(): sorted(d.glob("*.jpg")) for d in sorted(root.iterdir()) if d.is_dir()}
