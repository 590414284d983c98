"""The deployment, really running: the images built with podman, the AKS manifests played
with `podman kube play` (3 API replicas, the dev MariaDB StatefulSet, one shared model
volume), nginx in front as the LoadBalancer; then, only through it: enrol, train,
recognise, every replica serving the new release, and a pod deleted under traffic.
How the manifests are adapted for podman, and why: tests/deploy/podman_cluster.py.

Needs root and podman (kubernetes-deployment-azure/scripts/prepare-podman-host.sh);
skipped with that reason elsewhere (a failure under CI=true). A fresh machine spends most
of its time building the image's model stage; reruns reuse podman's layer cache.
Measurements (image size, cold start, memory per worker) go to
tests/artifacts/deploy-measurements.json.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from edge.labels import identity_from_answer
from tests.api import client as api
from tests.deploy import podman_cluster as pc
from tests.deploy.tools import REPO_ROOT, tool, yaml_module
from tests.security.lfw import lfw_people

pytestmark = [pytest.mark.podman, pytest.mark.slow]

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
PEOPLE = 5
ENROL_IMAGES = 4
PROBES_PER_PERSON = 2
READY_DEADLINE_S = 300
PREPARE = "kubernetes-deployment-azure/scripts/prepare-podman-host.sh"


def _require_podman() -> None:
    if shutil.which("podman") is None:
        pytest.skip(f"podman is not installed: run {PREPARE} as root (Debian/Ubuntu)")
    if os.geteuid() != 0:
        pytest.skip("the live deployment test plays pods on a bridge network: run it as root")
    tool("kubectl", "install kubectl (it renders the kustomizations offline)")
    yaml_module()


def _record(**values: object) -> None:
    """Add measurements to the artifacts file (the README's resource table quotes them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "deploy-measurements.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.update(values)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"measured: {values}")


@pytest.fixture(scope="module")
def images() -> pc.Images:
    _require_podman()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    built = pc.build_images(pc.version_tag(), ARTIFACTS / "podman-build.log")
    _record(api_image_mb=round(built.api_size_mb), image_build_s=round(built.build_seconds, 1))
    return built


def _wait_ready(cluster: pc.Cluster, started: float) -> None:
    """Poll each pod's /healthz (models loaded) and /readyz (database too) from inside it."""
    pending = {pod: {"/healthz", "/readyz"} for pod in cluster.api_pods}
    deadline = started + READY_DEADLINE_S
    while any(pending.values()) and time.monotonic() < deadline:
        for pod, paths in pending.items():
            for path in sorted(paths):
                answer = pc.get_in_pod(cluster.container(pod), path)
                if answer is not None and answer.status == 200:
                    paths.discard(path)
                    cluster.ready_seconds[f"{pod}{path}"] = time.monotonic() - started
        time.sleep(0.5)
    late = {pod: sorted(paths) for pod, paths in pending.items() if paths}
    if late:
        logs = {pod: pc.logs(cluster.container(pod)) for pod in late}
        raise pc.HarnessError(f"not ready after {READY_DEADLINE_S} s: {late}\n{logs}")


@pytest.fixture(scope="module")
def cluster(images: pc.Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[pc.Cluster]:
    workdir = tmp_path_factory.mktemp("live")
    (workdir / "kustomize").mkdir()
    played, left = pc.for_podman(pc.render(workdir / "kustomize", images))
    played_file = workdir / "played.yaml"
    played_file.write_text(yaml_module().safe_dump_all(played), encoding="utf-8")
    volumes = pc.volumes_of(played)
    secret_names = ["facerec-secrets", "facerec-mariadb"]
    pc.teardown(played_file, volumes, secret_names)  # what an interrupted run left
    try:
        yield _start(workdir, images, played_file, left)
    finally:
        if not pc.keep_running():
            pc.teardown(played_file, volumes, secret_names)


def _start(workdir: Path, images: pc.Images, played_file: Path, left: list[str]) -> pc.Cluster:
    """Secrets (as the README creates them), the network, the pods, then the LB."""
    admin_token = secrets.token_urlsafe(24)
    db_password = secrets.token_urlsafe(18)
    pc.create_secret(
        "facerec-mariadb",
        {"MARIADB_PASSWORD": db_password, "MARIADB_ROOT_PASSWORD": secrets.token_urlsafe(18)},
    )
    pc.create_secret(
        "facerec-secrets",
        {
            "DATABASE_URL": f"mysql+mysqlconnector://facerec:{db_password}@facerec-mariadb:3306/"
            "face_recognition",
            "API_KEYS": f"admin:{admin_token}",
        },
    )
    pc.podman("network", "create", pc.NETWORK)
    started = time.monotonic()
    pc.podman("kube", "play", "--network", pc.NETWORK, str(played_file), timeout=300)
    pods = pc.podman("pod", "ps", "--filter", "name=facerec-api", "--format", "{{.Name}}")
    running = pc.Cluster(
        workdir=workdir,
        images=images,
        api_pods=sorted(pods.split()),
        admin_token=admin_token,
        left_to_harness=left,
    )
    _wait_ready(running, started)
    models_loaded = [v for k, v in running.ready_seconds.items() if k.endswith("/healthz")]
    _record(
        cold_start_to_ready_s=round(max(running.ready_seconds.values()), 1),
        cold_start_models_loaded_s=round(max(models_loaded), 1),
    )
    running.start_load_balancer()
    return running


@dataclass(frozen=True)
class Trained:
    version: str
    probes: list[tuple[str, Path]]


def main_face(answer: dict[str, Any]) -> str | None:
    """The person_id of the largest face in a recognition answer (None: no face or an
    unknown one)."""
    identity = identity_from_answer(answer)
    return identity.person_id if identity is not None else None


@pytest.fixture(scope="module")
def trained(cluster: pc.Cluster) -> Trained:
    """Five LFW people enrolled and trained through the load balancer (every call
    carries the admin key: the balancer is no loopback peer)."""
    url, key = cluster.url, cluster.admin_token
    probes: list[tuple[str, Path]] = []
    for person in lfw_people(PEOPLE, ENROL_IMAGES):
        name = person.enrol[0].parent.name
        created = api.create_person(url, person.person_id, name, api_key=key)
        assert created.status_code == 201, created.text
        # LFW photos often hold bystanders: enrol each photo's largest face (enrol
        # asserts the 201).
        added = api.enrol(url, person.person_id, list(person.enrol), api_key=key)
        assert len(added["faces"]) == ENROL_IMAGES, added
        probes += [(person.person_id, p) for p in person.probes[:PROBES_PER_PERSON]]
    job = api.train(url, timeout=180, api_key=key)
    assert job["status"] == "succeeded", job
    assert job["people"] == PEOPLE
    return Trained(job["release_version"], probes)


def test_the_runtime_image_is_lean_and_unprivileged(images: pc.Images) -> None:
    inspected = json.loads(pc.podman("image", "inspect", images.api))[0]
    assert inspected["Config"]["User"] == "10001:10001"
    assert "8080/tcp" in inspected["Config"]["ExposedPorts"]
    assert "/healthz" in " ".join(inspected["Healthcheck"]["Test"])
    found = pc.podman(
        "run", "--rm", "--entrypoint", "python", images.api, "-c",
        "import importlib.util as u, shutil; "
        "print([m for m in ('tensorflow', 'tf2onnx', 'keras') if u.find_spec(m)], "
        "[c for c in ('gcc', 'cc', 'g++') if shutil.which(c)])",
    )  # fmt: skip
    assert found.strip() == "[] []"


def test_every_replica_is_ready_behind_the_load_balancer(cluster: pc.Cluster) -> None:
    assert len(cluster.api_pods) == 3
    assert "Service/facerec-api" in cluster.left_to_harness  # nginx stands in for it
    served = set()
    for _ in range(4 * len(cluster.api_pods)):
        response = requests.get(f"{cluster.url}/readyz", timeout=10)
        assert response.status_code == 200, response.text
        served.add(cluster.upstream_pod(response.headers["X-Upstream"]))
    assert served == set(cluster.api_pods)
    # The image's HEALTHCHECK command (what Docker or podman run outside a cluster; kube
    # play replaces it with the pod's probes) passes in every replica.
    inspected = json.loads(pc.podman("image", "inspect", cluster.images.api))[0]
    kind, *command = inspected["Healthcheck"]["Test"]
    assert kind == "CMD"
    for pod in cluster.api_pods:
        pc.podman("exec", cluster.container(pod), *command)


def test_every_replica_serves_the_new_release(cluster: pc.Cluster, trained: Trained) -> None:
    """One pod trained; the others see the flipped pointer on the shared volume."""
    latest: dict[str, str | None] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = api.call("GET", f"{cluster.url}/api/v1/model", cluster.admin_token)
        assert response.status_code == 200, response.text
        latest[cluster.upstream_pod(response.headers["X-Upstream"])] = response.json()["version"]
        if len(latest) == len(cluster.api_pods) and set(latest.values()) == {trained.version}:
            break
        time.sleep(0.2)
    assert latest == dict.fromkeys(cluster.api_pods, trained.version)


def test_every_replica_recognises_the_enrolled_people(
    cluster: pc.Cluster, trained: Trained
) -> None:
    correct = 0
    served = set()
    for person_id, image in trained.probes:
        response = api.recognize(cluster.url, image, api_key=cluster.admin_token)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["model_version"] == trained.version
        served.add(cluster.upstream_pod(response.headers["X-Upstream"]))
        correct += main_face(answer) == person_id
    assert served == set(cluster.api_pods)
    assert correct / len(trained.probes) >= 0.9, f"{correct}/{len(trained.probes)}"
    rss = {pod: pc.gunicorn_rss(cluster.container(pod)) for pod in cluster.api_pods}
    workers = [mib for pod in rss.values() for mib in pod["workers_mib"]]
    _record(
        recognised=f"{correct}/{len(trained.probes)}",
        worker_rss_mib_max=max(workers),
        worker_rss_mib_min=min(workers),
        master_rss_mib=max(m for pod in rss.values() for m in pod["master_mib"]),
        workers_per_pod=len(rss[cluster.api_pods[0]]["workers_mib"]),
    )


def test_requests_keep_succeeding_while_a_pod_is_deleted(
    cluster: pc.Cluster, trained: Trained
) -> None:
    """`kubectl delete pod` under load: SIGTERM, gunicorn drains, nginx moves on.

    The load runs until the deletion is over and 15 more answers came, however long the
    pod's stop takes (it has 45 s to drain): a fixed number of requests ran out during a
    slow stop once, and left nothing to show that the survivors served on.
    """
    person_id, image = trained.probes[0]
    victim = cluster.api_pods[1]
    results: list[tuple[float, int, str | None, str]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                response = api.recognize(cluster.url, image, api_key=cluster.admin_token)
            except requests.RequestException as error:
                results.append((time.monotonic(), 0, repr(error), "-"))
                continue
            ok = response.status_code == 200
            top = main_face(response.json()) if ok else None
            served = cluster.upstream_pod(response.headers.get("X-Upstream", ""))
            results.append((time.monotonic(), response.status_code, top, served))

    thread = threading.Thread(target=load)
    thread.start()
    try:
        load_started = time.monotonic()
        while len(results) < 5 and time.monotonic() < load_started + 120:
            time.sleep(0.1)
        assert len(results) >= 5, f"the load made {len(results)} requests in 120 s"
        stop_started = time.monotonic()
        pc.podman("pod", "stop", "-t", "45", victim, timeout=120)
        pc.podman("pod", "rm", victim, timeout=60)
        deleted_at = time.monotonic()
        after = len(results)
        while len(results) < after + 15 and time.monotonic() < deleted_at + 120:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=120)
    failures = [r for r in results if r[1] != 200 or r[2] != person_id]
    assert not failures, failures
    late = [r for r in results if r[0] > deleted_at]
    assert len(late) >= 15
    assert victim not in {r[3] for r in late}
    _record(
        requests_during_pod_deletion=len(results),
        failed_during_pod_deletion=len(failures),
        pod_deletion_s=round(deleted_at - stop_started, 1),
    )
