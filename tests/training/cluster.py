"""Three API instances behind nginx on one MariaDB database and one model volume.

The stand-in for the Kubernetes deployment (../shared/docs/containers.md): each instance
is a separate gunicorn master with its own workers (a pod), nginx is the Service.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.live_api import ApiProcess, free_port

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    client_max_body_size 20m;
    # Bodies and answers stay in memory: nginx's workers (user nobody) cannot write under
    # the test's private temporary folder.
    client_body_buffer_size 20m;
    proxy_buffering off;
    upstream api {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://api;
            proxy_read_timeout 120s;
{location}
        }}
    }}
}}
"""


@dataclass
class Nginx:
    prefix: Path
    upstreams: list[int]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    location: str = ""  # more directives for `location /` (e.g. proxy_set_header)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            pytest.skip("nginx is not installed (apt-get install -y nginx)")
        self.port = free_port()
        self.prefix.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{port};" for port in self.upstreams)
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                prefix=self.prefix, servers=servers, port=self.port, location=self.location
            )
        )
        self.process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(self.prefix)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise TimeoutError(f"nginx did not answer; see {self.prefix}/error.log")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


@dataclass
class Cluster:
    instances: list[ApiProcess]
    balancer: Nginx
    model_dir: Path
    database_url: str

    @property
    def url(self) -> str:
        return self.balancer.url

    def stop(self) -> None:
        self.balancer.stop()
        with ThreadPoolExecutor(len(self.instances)) as pool:
            list(pool.map(lambda api: api.stop(), self.instances))


def start_cluster(folder: Path, database_url: str, count: int, **env: str) -> Cluster:
    model_dir = folder / "models"
    instances = [
        ApiProcess(
            env={"DATABASE_URL": database_url, "MODEL_DIR": str(model_dir), **env},
            workers=2,
            log_path=folder / f"instance-{index}.log",
        )
        for index in range(count)
    ]
    balancer = Nginx(folder / "nginx", [api.port for api in instances])
    cluster = Cluster(instances, balancer, model_dir, database_url)
    try:
        # The first creates the tables, the others find them.
        instances[0].start()
        with ThreadPoolExecutor(count - 1) as pool:
            list(pool.map(lambda api: api.start(), instances[1:]))
        balancer.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
