"""Playing the Kubernetes manifests on podman: the live deployment test's harness.

No Kubernetes API server can run on these machines, so the rendered manifests are played
with `podman kube play`, which runs Deployments (one pod per replica), ConfigMaps and
PersistentVolumeClaims (one named volume shared by every replica: a real ReadWriteMany
stand-in). What podman 4.3 cannot do is adapted on a copy, never in the manifests:

- `ports` are stripped: podman publishes each containerPort on the host, so replicas 2..N
  would collide. Pods are reached on their own network, as a Service reaches them.
- probes are stripped: podman runs them as systemd timers, and there is no systemd here.
  The harness polls /healthz and /readyz inside each pod instead (as the kubelet would).
- the StatefulSet becomes a Pod named after its Service with a claim per template, so the
  API reaches it by the same name (`facerec-mariadb`) through the network's DNS.
- Secrets are created the way `kubectl create secret` is documented in the README, but
  as podman secrets (podman 4.3 reads them only as JSON maps of base64 values).
- emptyDir volumes become named volumes in podman: they get a prefix here so that the
  harness removes exactly what it created.
- Services, the HPA, the PDB and the Namespace have no podman equivalent; the
  LoadBalancer Service is stood in for by nginx on the pods' network (lb.Containerfile),
  the only port published on the host, on loopback.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.deploy.tools import KUBE_DIR, REPO_ROOT, compose, documents, kustomize
from tests.live_api import free_port

NETWORK = "facerec-live"
PREFIX = "facerec-live-"
LB_NAME = f"{PREFIX}lb"
LB_IMAGE = "localhost/facerec-live-lb:bookworm"
API_REPOSITORY = "localhost/facerec-api"
DB_REPOSITORY = "localhost/facerec-mariadb"
CACHE_REPOSITORY = "localhost/facerec-api-build-cache"
AZURE_API_IMAGE = "facerecregistry.azurecr.io/facerec-api"
PLAYABLE = {"ConfigMap", "PersistentVolumeClaim", "Deployment", "Pod"}
API_PORT = 8080

IN_POD = Path(__file__).with_name("in_pod.py")


class HarnessError(RuntimeError):
    """A podman step failed; the message carries its output."""


def podman(*args: str, timeout: float = 120, check: bool = True, stdin: str | None = None) -> str:
    """Run podman; return stdout, or raise HarnessError with stderr when `check`."""
    result = subprocess.run(
        ["podman", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise HarnessError(f"podman {' '.join(args[:3])} ... failed:\n{result.stderr[-4000:]}")
    return result.stdout


def version_tag() -> str:
    """The version the manifests pin (base/deployment.yaml), so the images carry it."""
    text = (KUBE_DIR / "base" / "deployment.yaml").read_text(encoding="utf-8")
    match = re.search(r"image:\s*facerec-api:(\S+)", text)
    if match is None:
        raise HarnessError("base/deployment.yaml pins no facerec-api version")
    return match.group(1)


@dataclass
class Images:
    """The images the live test runs (by the version the manifests pin), with the API
    image's size and the time the build took."""

    tag: str
    api_size_mb: float = 0.0
    build_seconds: float = 0.0

    @property
    def api(self) -> str:
        return f"{API_REPOSITORY}:{self.tag}"

    @property
    def database(self) -> str:
        return f"{DB_REPOSITORY}:{self.tag}"


def build_images(tag: str, log: Path) -> Images:
    """Base stand-ins where needed, then the API, database and load-balancer images.

    Layers are cached by podman, so a rerun without code changes takes seconds and one
    after a change to api/ rebuilds only the last layers; a fresh machine builds
    everything (installing TensorFlow and converting the models dominate).
    """
    images = Images(tag)
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        steps = [
            ["bash", str(KUBE_DIR / "scripts" / "build-standin-images.sh")],
            # The two heavy stages, tagged so that pruning keeps them as the build cache.
            [*_build(f"{CACHE_REPOSITORY}:models", REPO_ROOT / "Dockerfile"), "--target", "models"],
            [*_build(f"{CACHE_REPOSITORY}:deps", REPO_ROOT / "Dockerfile"), "--target", "deps"],
            _build(images.api, REPO_ROOT / "Dockerfile"),
            _build(images.database, REPO_ROOT / "database" / "Dockerfile"),
            _build(LB_IMAGE, Path(__file__).with_name("lb.Containerfile"), Path(__file__).parent),
        ]
        for step in steps:
            out.write(f"$ {' '.join(step)}\n")
            out.flush()
            result = subprocess.run(
                step, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=2400, check=False
            )
            if result.returncode != 0:
                raise HarnessError(f"{' '.join(step)} failed (exit {result.returncode}); see {log}")
    images.build_seconds = time.monotonic() - started
    # Superseded builds (each code change leaves a ~1 GB untagged image) go; the tagged
    # images and their layers stay.
    podman("image", "prune", "--force", timeout=600)
    size = podman("image", "inspect", "--format", "{{.Size}}", images.api).strip()
    images.api_size_mb = int(size) / 1e6
    return images


def _build(image: str, containerfile: Path, context: Path = REPO_ROOT) -> list[str]:
    return [
        "podman", "build", "--pull=never", "--format", "docker", "--layers",
        "-t", image, "-f", str(containerfile), str(context),
    ]  # fmt: skip


def render(workdir: Path, images: Images) -> list[dict[str, Any]]:
    """The AKS overlay with the dev MariaDB component, images renamed to the local ones."""
    retag = (
        "images:\n"
        f'  - name: {AZURE_API_IMAGE}\n    newName: {API_REPOSITORY}\n    newTag: "{images.tag}"\n'
        f'  - name: facerec-mariadb\n    newName: {DB_REPOSITORY}\n    newTag: "{images.tag}"\n'
    )
    kustomization = compose(
        workdir, [KUBE_DIR / "overlays" / "azure"], [KUBE_DIR / "components" / "mariadb"], retag
    )
    return documents(kustomize(kustomization))


def for_podman(docs: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The documents podman can play, adapted as the module docstring says; plus the
    kinds left to the harness (reported, never silently lost)."""
    played: list[dict[str, Any]] = []
    left: list[str] = []
    for original in docs:
        doc = copy.deepcopy(original)
        doc["metadata"].pop("namespace", None)
        if doc["kind"] == "StatefulSet":
            played.extend(_statefulset_as_pod(doc))
            continue
        if doc["kind"] not in PLAYABLE:
            left.append(f"{doc['kind']}/{doc['metadata']['name']}")
            continue
        if doc["kind"] == "Deployment":
            _adapt_pod_spec(_pod_spec(doc))
        played.append(doc)
    return played, left


def _statefulset_as_pod(statefulset: dict[str, Any]) -> list[dict[str, Any]]:
    name = statefulset["metadata"]["name"]
    template = statefulset["spec"]["template"]
    spec = copy.deepcopy(template["spec"])
    claims = []
    for claim in statefulset["spec"].get("volumeClaimTemplates", []):
        claim_name = f"{claim['metadata']['name']}-{name}-0"
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name},
                "spec": claim["spec"],
            }
        )
        spec.setdefault("volumes", []).append(
            {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
        )
    _adapt_pod_spec(spec)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": statefulset["spec"]["serviceName"],
            "labels": template["metadata"]["labels"],
        },
        "spec": spec,
    }
    return [*claims, pod]


def _adapt_pod_spec(spec: dict[str, Any]) -> None:
    renamed = {}
    for volume in spec.get("volumes", []):
        if "emptyDir" in volume:
            renamed[volume["name"]] = volume["name"] = PREFIX + volume["name"]
    for container in spec["containers"]:
        for key in ("ports", "startupProbe", "livenessProbe", "readinessProbe"):
            container.pop(key, None)
        for mount in container.get("volumeMounts", []):
            mount["name"] = renamed.get(mount["name"], mount["name"])


def volumes_of(played: Iterable[dict[str, Any]]) -> list[str]:
    """Every named volume playing these documents creates."""
    names = []
    for doc in played:
        if doc["kind"] == "PersistentVolumeClaim":
            names.append(doc["metadata"]["name"])
        elif doc["kind"] in {"Deployment", "Pod"}:
            names += [v["name"] for v in _pod_spec(doc).get("volumes", []) if "emptyDir" in v]
    return names


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"] if doc["kind"] == "Deployment" else doc["spec"]


def create_secret(name: str, values: dict[str, str]) -> None:
    """The README's podman counterpart of `kubectl create secret generic`."""
    pairs = [f"{key}={value}" for key, value in values.items()]
    result = subprocess.run(
        ["bash", str(KUBE_DIR / "scripts" / "podman-secret.sh"), name, *pairs],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(f"podman-secret.sh {name} failed:\n{result.stderr}")


@dataclass(frozen=True)
class PodHttp:
    status: int
    body: str


def get_in_pod(container: str, path: str) -> PodHttp | None:
    """GET `path` on the container's own port from inside it; None when nothing answers."""
    result = subprocess.run(
        ["podman", "exec", "-i", container, "python", "-", "probe", str(API_PORT), path],
        input=IN_POD.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        return None
    status, _, body = result.stdout.partition("\n")
    return PodHttp(int(status), body)


def logs(container: str, tail: int = 40) -> str:
    """The container's last output lines (gunicorn logs to stderr)."""
    result = subprocess.run(
        ["podman", "logs", "--tail", str(tail), container],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout + result.stderr


def gunicorn_rss(container: str) -> dict[str, list[int]]:
    """RSS (MiB) of the gunicorn master and of each worker in one API container."""
    script = IN_POD.read_text(encoding="utf-8")
    return json.loads(podman("exec", "-i", container, "python", "-", "rss", stdin=script))


def pod_ip(pod: str) -> str:
    infra = podman("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).strip()
    template = f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}'
    return podman("inspect", "--format", template, infra).strip()


NGINX_CONF = """worker_processes 1;
error_log /dev/stderr warn;
pid /tmp/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_max_body_size 32m;
    upstream api {{
{servers}
    }}
    server {{
        listen 80;
        location / {{
            proxy_pass http://api;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
            # A pod that is gone refuses or times out before the request is sent: try the
            # next one (also for POST, which nginx never resends once it was sent).
            proxy_next_upstream error timeout;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


@dataclass
class Cluster:
    """What one live run started, and what it measured on the way."""

    workdir: Path
    images: Images
    api_pods: list[str]
    admin_token: str
    left_to_harness: list[str]
    lb_port: int = 0
    ready_seconds: dict[str, float] = field(default_factory=dict)
    pod_ips: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def container(self, pod: str) -> str:
        return f"{pod}-api"

    def start_load_balancer(self) -> None:
        """nginx over every API pod's address, published on loopback only."""
        self.pod_ips = {pod: pod_ip(pod) for pod in self.api_pods}
        servers = "\n".join(
            f"        server {ip}:{API_PORT} max_fails=1 fail_timeout=10s;"
            for ip in self.pod_ips.values()
        )
        conf = self.workdir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(servers=servers), encoding="utf-8")
        self.lb_port = free_port()
        podman(
            "run", "-d", "--name", LB_NAME, "--network", NETWORK,
            "-p", f"127.0.0.1:{self.lb_port}:80",
            "-v", f"{conf}:/etc/nginx/nginx.conf:ro",
            LB_IMAGE,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise HarnessError(f"nginx does not answer: {logs(LB_NAME)}")
            time.sleep(0.2)

    def upstream_pod(self, upstream_header: str) -> str:
        """The pod that answered, from nginx's X-Upstream (the last address tried); the
        header itself when it names no pod (nginx answered alone)."""
        address = upstream_header.split(",")[-1].strip().rpartition(":")[0]
        by_ip = {ip: pod for pod, ip in self.pod_ips.items()}
        return by_ip.get(address, upstream_header)


def teardown(played_file: Path | None, volumes: Iterable[str], secrets: Iterable[str]) -> None:
    """Remove everything a run created; safe on a half-started or absent run."""
    podman("rm", "-f", "-t", "5", LB_NAME, check=False)
    if played_file is not None and played_file.exists():
        podman("kube", "down", str(played_file), check=False, timeout=180)
    for volume in volumes:
        podman("volume", "rm", "-f", volume, check=False)
    for secret in secrets:
        podman("secret", "rm", secret, check=False)
    podman("network", "rm", "-f", NETWORK, check=False)


def keep_running() -> bool:
    """FACEREC_LIVE_KEEP=1 leaves the pods running after the test, to look at them."""
    return os.environ.get("FACEREC_LIVE_KEEP", "") == "1"
