"""The one typed loader through which the API, the edge and the benchmarks open models.

It verifies each file's sha256 against the manifest (or a SHA256SUMS file for the
UltraFace detectors, which are not ours to redistribute) before onnxruntime sees it, and
creates sessions with bounded intra-op threads and spinning off: with spinning on, the
three MTCNN sessions of one worker fight over two cores (measured 54 ms -> 97 ms a frame).
"""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort

from models.manifest import ModelEntry, read_manifest, sha256_of

DEFAULT_MODELS_DIR = Path(__file__).resolve().parent / "build"


class ModelError(RuntimeError):
    """A model file is missing, unknown or fails its integrity check."""


def models_dir_from_env() -> Path:
    """`FACE_MODELS_DIR`, or `models/build` beside this package."""
    return Path(os.environ.get("FACE_MODELS_DIR", DEFAULT_MODELS_DIR))


def intra_op_threads_from_env(default: int = 1) -> int:
    """`ORT_INTRA_OP_THREADS`: threads per session; 1 suits several gunicorn workers per pod."""
    value = os.environ.get("ORT_INTRA_OP_THREADS", "")
    return int(value) if value.strip() else default


def session_options(intra_op_threads: int, *, spinning: bool = False) -> ort.SessionOptions:
    """Options every session shares: bounded threads, no memory arena, and no busy-wait
    spinning unless `spinning` (then only while a run lasts: a session for a core that is
    otherwise idle, api/vision/cores.py). The arena keeps each run's peak allocation for
    good (MTCNN on a large frame leaves it big); without it a worker with MTCNN and the
    int8 FaceNet loaded and used holds 148 MiB instead of 191 (fp32 FaceNet: 316 instead
    of 343), and a batch-1 run was no slower (measured interleaved, 15 runs each)."""
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.intra_op_num_threads = max(1, intra_op_threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if spinning:  # the threads sleep as soon as a run ends, not after a spin of their own
        options.add_session_config_entry("session.force_spinning_stop", "1")
    options.log_severity_level = 3
    return options


def verify_file(path: Path, expected_sha256: str) -> None:
    """Raise ModelError naming the file unless it exists and hashes to `expected_sha256`."""
    if not path.is_file():
        raise ModelError(f"model file {path} is missing")
    actual = sha256_of(path)
    if actual != expected_sha256.lower():
        raise ModelError(
            f"model file {path} is corrupted or was replaced: sha256 {actual} "
            f"does not match the expected {expected_sha256}"
        )


def create_session(
    path: Path, expected_sha256: str, intra_op_threads: int | None = None, *, spinning: bool = False
) -> ort.InferenceSession:
    """Verify `path`, then open it on the CPU provider."""
    verify_file(path, expected_sha256)
    threads = intra_op_threads if intra_op_threads is not None else intra_op_threads_from_env()
    options = session_options(threads, spinning=spinning)
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def read_sha256sums(path: Path) -> dict[str, str]:
    """Parse a `sha256sum` output file into {file name: hex digest}."""
    sums: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*").strip()] = digest.lower()
    return sums


class ModelStore:
    """The built models of one `models/build` folder, opened by name."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else models_dir_from_env()
        self._entries = read_manifest(self.root)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def entry(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise ModelError(
                f"model {name!r} is not in {self.root}/MANIFEST.json; run `make models`"
            ) from None

    def path(self, name: str) -> Path:
        return self.root / self.entry(name).file

    def session(
        self, name: str, intra_op_threads: int | None = None, *, spinning: bool = False
    ) -> ort.InferenceSession:
        entry = self.entry(name)
        return create_session(
            self.root / entry.file, entry.sha256, intra_op_threads, spinning=spinning
        )
