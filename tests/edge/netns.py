"""Two hosts on one machine: an "edge" and a "cloud" network namespace joined by a veth
pair, each with an address that exists only inside its namespace (see
../shared/docs/containers.md). Traffic is only ever sent from inside the namespaces
(`ip netns exec`): from the host namespace such an address has no route and would leave
the machine.

The names carry the test process id, so parallel runs (or a namespace left by a killed
run) do not collide; everything is deleted on exit, processes first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

SUBNET_PREFIX = "10.200.0"
CLOUD_ADDRESS = f"{SUBNET_PREFIX}.1"
EDGE_ADDRESS = f"{SUBNET_PREFIX}.2"

# Run inside a namespace to make one HTTP request: urllib only, so it starts in ~50 ms.
_REQUEST_SNIPPET = """
import json, sys, urllib.error, urllib.request
method, url, key = sys.argv[1:4]
request = urllib.request.Request(url, method=method, headers={"X-API-Key": key} if key else {})
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        status, body = response.status, response.read()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read()
except OSError as error:
    status, body = 0, str(error).encode()
print(json.dumps({"status": status, "body": body.decode("utf-8", "replace")}))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def skip_unless_netns_possible() -> None:
    """Skip, saying why, where namespaces cannot be made (not root, no iproute2); where
    they should work but `ip netns` fails, fail with its error (a harness fault is not a
    missing facility)."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("`ip` (iproute2) is not installed")
    probe = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, timeout=10, check=False
    )
    if probe.returncode != 0:
        pytest.fail(f"`ip netns list` failed as root: {probe.stderr.strip()}")


@dataclass(frozen=True)
class TwoHosts:
    edge: str  # namespace names
    cloud: str
    edge_link: str  # the veth end inside the edge namespace

    def command(self, namespace: str, argv: Sequence[str]) -> list[str]:
        """`argv` run inside `namespace` (the environment is inherited)."""
        return ["ip", "netns", "exec", namespace, *argv]

    def set_edge_link(self, up: bool) -> None:
        """Unplug (or plug back) the edge host's network cable."""
        _ip("-n", self.edge, "link", "set", self.edge_link, "up" if up else "down")

    def request(self, method: str, url: str, api_key: str | None = None) -> tuple[int, dict | str]:
        """One HTTP request sent from the edge host: (status, JSON body or text); status 0
        when nothing answered."""
        result = subprocess.run(
            self.command(
                self.edge, [sys.executable, "-c", _REQUEST_SNIPPET, method, url, api_key or ""]
            ),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        answer = json.loads(result.stdout)
        try:
            return answer["status"], json.loads(answer["body"])
        except ValueError:
            return answer["status"], answer["body"]


@contextmanager
def two_hosts() -> Iterator[TwoHosts]:
    """Namespaces edge (EDGE_ADDRESS/24) and cloud (CLOUD_ADDRESS/24) on one veth pair;
    the caller stops the processes it started inside them before this exits."""
    skip_unless_netns_possible()
    tag = f"e2e{os.getpid()}"
    hosts = TwoHosts(edge=f"{tag}-edge", cloud=f"{tag}-cloud", edge_link=f"ve{os.getpid()}")
    cloud_link = f"vc{os.getpid()}"  # interface names: at most 15 characters
    created: list[str] = []
    try:
        try:
            for namespace in (hosts.edge, hosts.cloud):
                _ip("netns", "add", namespace)
                created.append(namespace)
                _ip("-n", namespace, "link", "set", "lo", "up")
            _ip("link", "add", hosts.edge_link, "type", "veth", "peer", "name", cloud_link)
            _ip("link", "set", hosts.edge_link, "netns", hosts.edge)
            _ip("link", "set", cloud_link, "netns", hosts.cloud)
            _ip("-n", hosts.edge, "addr", "add", f"{EDGE_ADDRESS}/24", "dev", hosts.edge_link)
            _ip("-n", hosts.cloud, "addr", "add", f"{CLOUD_ADDRESS}/24", "dev", cloud_link)
            _ip("-n", hosts.cloud, "link", "set", cloud_link, "up")
            hosts.set_edge_link(up=True)
        except subprocess.CalledProcessError as error:
            pytest.fail(f"{' '.join(error.cmd)} failed: {error.stderr.strip()}")
        yield hosts
    finally:
        subprocess.run(  # only there when a setup step failed before the move
            ["ip", "link", "del", hosts.edge_link], capture_output=True, timeout=10, check=False
        )
        for namespace in created:  # deleting a namespace also deletes its veth end
            subprocess.run(
                ["ip", "netns", "del", namespace], capture_output=True, timeout=10, check=False
            )
