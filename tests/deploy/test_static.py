"""Static checks of the deployment: schema-valid manifests, pinned images, the contract
between Dockerfile, manifests and the service (ports, probes, paths), and linted
Dockerfiles. What only a running cluster can show is in test_live_podman.py.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.tools import (
    KUBE_DIR,
    KUBERNETES_VERSION,
    REPO_ROOT,
    compose,
    documents,
    find,
    kustomize,
    tool,
    yaml_module,
)

KUSTOMIZATIONS = sorted(KUBE_DIR.glob("**/kustomization.yaml"))
DOCKERFILES = [REPO_ROOT / "Dockerfile", REPO_ROOT / "database" / "Dockerfile"]
API_PORT = 8080


def _resource_files() -> list[Path]:
    """Every complete manifest a kustomization lists under `resources` (patches are
    partial documents: they are validated as part of the rendered overlays)."""
    yaml = yaml_module()
    files: list[Path] = []
    for kustomization in KUSTOMIZATIONS:
        spec = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
        for entry in spec.get("resources", []):
            path = (kustomization.parent / entry).resolve()
            if path.is_file():
                files.append(path)
    return sorted(set(files))


def _validate(path: Path) -> None:
    validator = tool("kubernetes-validate")
    result = subprocess.run(
        [validator, "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{path}:\n{result.stdout}{result.stderr}"


@dataclass(frozen=True)
class Render:
    """One kustomization's output: the file handed to the validator and its documents."""

    path: Path
    docs: list[dict[str, Any]]


RENDERS = ("azure", "local", "azure+mariadb+nfs")


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Render]:
    """Each overlay rendered, plus AKS with both optional components switched on."""
    work = tmp_path_factory.mktemp("kustomize")
    optional = [KUBE_DIR / "components" / "mariadb", KUBE_DIR / "components" / "nfs-models"]
    texts = {
        "azure": kustomize(KUBE_DIR / "overlays" / "azure"),
        "local": kustomize(KUBE_DIR / "overlays" / "local"),
        "azure+mariadb+nfs": kustomize(compose(work, [KUBE_DIR / "overlays" / "azure"], optional)),
    }
    result = {}
    for name, text in texts.items():
        path = work / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        result[name] = Render(path, documents(text))
    return result


def _api(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = find(docs, "Deployment", "facerec-api")
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"])
    return deployment, container


def test_the_static_checks_see_every_part_of_the_deployment() -> None:
    names = {path.relative_to(KUBE_DIR).as_posix() for path in _resource_files()}
    for expected in (
        "base/namespace.yaml",
        "base/deployment.yaml",
        "base/service.yaml",
        "base/hpa.yaml",
        "base/pdb.yaml",
        "base/pvc-models.yaml",
        "base/configmap.yaml",
        "components/mariadb/statefulset.yaml",
        "components/nfs-models/pv-nfs.yaml",
        "overlays/azure/backup-cronjob.yaml",
        "overlays/azure/pvc-backups.yaml",
    ):
        assert expected in names


@pytest.mark.parametrize(
    "path",
    _resource_files() if KUSTOMIZATIONS else [],
    ids=lambda p: p.relative_to(KUBE_DIR).as_posix(),
)
def test_manifest_file_validates_strictly(path: Path) -> None:
    _validate(path)


@pytest.mark.parametrize("overlay", RENDERS)
def test_rendered_overlay_validates_strictly(renders: dict[str, Render], overlay: str) -> None:
    _validate(renders[overlay].path)


@pytest.mark.parametrize("overlay", RENDERS)
def test_every_image_is_pinned_to_a_version(renders: dict[str, Render], overlay: str) -> None:
    images = [
        container["image"]
        for doc in renders[overlay].docs
        if doc["kind"] in {"Deployment", "StatefulSet"}
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]
    assert images
    for image in images:
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{image} is not pinned to a version tag"


def test_aks_api_deployment_meets_the_operating_contract(renders: dict[str, Render]) -> None:
    docs = renders["azure"].docs
    deployment, container = _api(docs)
    spec, pod = deployment["spec"], deployment["spec"]["template"]["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert (
        anti[0]["podAffinityTerm"]["labelSelector"]["matchLabels"]
        == spec["selector"]["matchLabels"]
    )
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "model loading time"
    for key in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][key].keys()
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    config = find(docs, "ConfigMap", "facerec-config")["data"]
    models_claim = volumes[mounts[config["MODEL_DIR"]]]["persistentVolumeClaim"]["claimName"]
    pvc = find(docs, "PersistentVolumeClaim", models_claim)["spec"]
    assert pvc["accessModes"] == ["ReadWriteMany"]
    assert pvc["storageClassName"] == "azurefile-csi"


def test_traffic_reaches_the_port_gunicorn_binds(renders: dict[str, Render]) -> None:
    """The original manifests sent traffic to 5000 while the app listened on 8080."""
    docs = renders["azure"].docs
    _, container = _api(docs)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    config = find(docs, "ConfigMap", "facerec-config")["data"]
    assert config["BIND"].rpartition(":")[2] == str(API_PORT) == str(ports["http"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in ("http", API_PORT)
    service = find(docs, "Service", "facerec-api")["spec"]
    assert service["type"] == "LoadBalancer"
    assert service["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert (
        service["selector"].items()
        <= _api(docs)[0]["spec"]["template"]["metadata"]["labels"].items()
    )
    assert f"EXPOSE {API_PORT}" in (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_autoscaler_and_disruption_budget_govern_the_api(renders: dict[str, Render]) -> None:
    docs = renders["azure"].docs
    deployment, _ = _api(docs)
    hpa = find(docs, "HorizontalPodAutoscaler", "facerec-api")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "facerec-api",
    }
    assert hpa["minReplicas"] == deployment["spec"]["replicas"] < hpa["maxReplicas"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    pdb = find(docs, "PodDisruptionBudget", "facerec-api")["spec"]
    assert pdb["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert pdb["maxUnavailable"] == 1


def test_local_overlay_is_one_pod_on_sqlite(renders: dict[str, Render]) -> None:
    docs = renders["local"].docs
    deployment, container = _api(docs)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    kinds = {doc["kind"] for doc in docs}
    assert not kinds & {"HorizontalPodAutoscaler", "PodDisruptionBudget", "StatefulSet"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/var/lib/facerec/data" in mounts  # the image's default SQLite location
    assert "DATABASE_URL=sqlite:////var/lib/facerec/data/" in (REPO_ROOT / "Dockerfile").read_text(
        encoding="utf-8"
    )
    for doc in docs:
        if doc["kind"] == "PersistentVolumeClaim":
            assert doc["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_dev_mariadb_and_nfs_components(renders: dict[str, Render]) -> None:
    docs = renders["azure+mariadb+nfs"].docs
    statefulset = find(docs, "StatefulSet", "facerec-mariadb")
    service = find(docs, "Service", statefulset["spec"]["serviceName"])
    assert service["spec"]["ports"][0]["port"] == 3306
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    for name in ("MARIADB_PASSWORD", "MARIADB_ROOT_PASSWORD"):
        assert "secretKeyRef" in env[name]["valueFrom"], f"{name} must come from a Secret"
    claim = statefulset["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    pvc = find(docs, "PersistentVolumeClaim", "facerec-models")["spec"]
    pv = find(docs, "PersistentVolume", pvc["volumeName"])["spec"]
    assert pv["accessModes"] == ["ReadWriteMany"] and "nfs" in pv
    assert pvc["storageClassName"] == pv["storageClassName"] == ""


def test_aks_backs_up_nightly_to_a_volume_of_its_own(renders: dict[str, Render]) -> None:
    """The backup CronJob runs the API image's export, one at a time, as the API runs
    (non-root, read-only root), onto the PVC the overlay defines; the database URL from
    the same Secret as the API."""
    docs = renders["azure"].docs
    cronjob = find(docs, "CronJob", "facerec-backup")
    assert cronjob["metadata"]["namespace"] == "facerec"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "python -m api.data export --out" in container["command"][-1]
    assert container["image"] == _api(docs)[1]["image"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "facerec-secrets"
    claim = next(v for v in pod["volumes"] if v["name"] == "backups")
    pvc = find(docs, "PersistentVolumeClaim", claim["persistentVolumeClaim"]["claimName"])
    assert pvc["metadata"]["namespace"] == "facerec"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/backups" in mounts and "/tmp" in mounts


@pytest.mark.parametrize("overlay", RENDERS)
def test_no_secret_value_is_committed(renders: dict[str, Render], overlay: str) -> None:
    """Secrets are created with `kubectl create secret` (README), never rendered from git;
    the README's commands create every key the pods read."""
    docs = renders[overlay].docs
    assert not [doc for doc in docs if doc["kind"] == "Secret"]
    readme = (KUBE_DIR / "README.md").read_text(encoding="utf-8")
    for doc in docs:
        if doc["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert f"create secret generic {ref['name']}" in readme
                    assert f"--from-literal={ref['key']}=" in readme


@pytest.mark.parametrize(
    "dockerfile", DOCKERFILES, ids=lambda p: p.relative_to(REPO_ROOT).as_posix()
)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    hadolint = tool("hadolint")
    result = subprocess.run(
        [hadolint, str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_stage_has_no_build_toolchain_and_no_password() -> None:
    """TensorFlow and compilers stay in the build stage (the live test checks the built
    image too); the runtime is non-root; no password is baked into the database image."""
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    runtime = text[text.index("AS runtime") :]
    assert "requirements-build.txt" not in runtime
    assert not re.search(r"\b(gcc|g\+\+|build-essential)\b", runtime)
    user = re.findall(r"^USER\s+(\S+)", runtime, flags=re.MULTILINE)
    assert user and not user[-1].startswith(("0", "root"))
    assert "HEALTHCHECK" in runtime
    database = (REPO_ROOT / "database" / "Dockerfile").read_text(encoding="utf-8")
    assert not re.search(r"^(ENV|ARG)\b.*PASSWORD", database, flags=re.MULTILINE)
