"""The MANIFEST.json format shared by the build step and the runtime loader.

The manifest is the contract between build time and run time: for each model its file,
sha256, where it came from and how to feed it. The loader refuses any file whose hash
differs, so a truncated download or a tampered shared volume fails loudly at start-up.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "MANIFEST.json"
MANIFEST_FORMAT = 1


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed so 100 MB weights do not sit in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelSource:
    """Where a weight file came from: a PyPI package (and the member inside it) or a path."""

    package: str
    version: str
    member: str
    license: str


@dataclass(frozen=True)
class ModelEntry:
    """One model file as recorded in the manifest."""

    name: str
    file: str
    sha256: str
    source: ModelSource
    input_shape: list[Any]
    preprocessing: str
    parity: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("name")
        return data

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> ModelEntry:
        return cls(
            name=name,
            file=data["file"],
            sha256=data["sha256"],
            source=ModelSource(**data["source"]),
            input_shape=list(data["input_shape"]),
            preprocessing=data["preprocessing"],
            parity=dict(data.get("parity", {})),
            extra=dict(data.get("extra", {})),
        )


def read_manifest(root: Path) -> dict[str, ModelEntry]:
    """Entries of `root/MANIFEST.json`, keyed by model name (empty when there is none)."""
    path = root / MANIFEST_NAME
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path}: unsupported manifest format {data.get('format')!r}")
    return {name: ModelEntry.from_json(name, entry) for name, entry in data["models"].items()}


def write_manifest(root: Path, entries: dict[str, ModelEntry], built_with: dict[str, str]) -> Path:
    """Write the manifest atomically (temp file + rename) so a reader never sees half of it."""
    path = root / MANIFEST_NAME
    payload = {
        "format": MANIFEST_FORMAT,
        "built_with": built_with,
        "models": {name: entries[name].to_json() for name in sorted(entries)},
    }
    tmp = path.with_suffix(f".tmp.{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
