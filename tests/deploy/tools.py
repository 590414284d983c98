"""Locating the deployment checks' external tools and rendering the kustomizations.

The tools are pinned in kubernetes-deployment-azure/requirements-check.txt (pip) or come
with the machine (kubectl); a test that needs a missing one skips and says how to get it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBE_DIR = REPO_ROOT / "kubernetes-deployment-azure"
CHECK_REQUIREMENTS = "kubernetes-deployment-azure/requirements-check.txt"
KUBERNETES_VERSION = "1.30.0"


def tool(name: str, how: str | None = None) -> str:
    """Path of executable `name` (on PATH or beside this Python), or skip the test."""
    found = shutil.which(name)
    if found is None:
        beside = Path(sys.executable).parent / name
        found = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
    if found is None:
        pytest.skip(f"{name} is not installed: {how or f'pip install -r {CHECK_REQUIREMENTS}'}")
    return found


def yaml_module() -> Any:
    """PyYAML, or skip naming the requirements file that pins it."""
    return pytest.importorskip(
        "yaml", reason=f"PyYAML missing: pip install -r {CHECK_REQUIREMENTS}"
    )


def kustomize(directory: Path) -> str:
    """`kubectl kustomize DIRECTORY` (offline: no cluster needed)."""
    kubectl = tool("kubectl", "install kubectl (it renders kustomizations offline)")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


def compose(workdir: Path, resources: list[Path], components: list[Path], extra: str = "") -> Path:
    """Write a kustomization in `workdir` combining overlays and components; return it.

    Kustomize accepts only relative paths to other kustomizations, hence os.path.relpath.
    """
    lines = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "resources:"]
    lines += [f"  - {os.path.relpath(path, workdir)}" for path in resources]
    if components:
        lines.append("components:")
        lines += [f"  - {os.path.relpath(path, workdir)}" for path in components]
    (workdir / "kustomization.yaml").write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return workdir


def documents(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a multi-document stream."""
    return [doc for doc in yaml_module().safe_load_all(text) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one resource of `kind` (and `name`); fails the test when absent or ambiguous."""
    hits = [
        doc
        for doc in docs
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(hits) == 1, f"expected one {kind} {name or ''}, found {len(hits)}"
    return hits[0]
