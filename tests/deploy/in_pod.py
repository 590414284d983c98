"""Run inside an API container (stdlib only), piped to `podman exec -i C python - CMD`.

probe PORT PATH   GET http://127.0.0.1:PORT/PATH from inside the pod, as the kubelet's
                  probes do; prints the status line, then the body
rss               the gunicorn master's and workers' resident memory, as JSON
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def probe(port: str, path: str) -> None:
    try:
        response = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
    except urllib.error.HTTPError as error:
        response = error
    print(response.status)
    print(response.read().decode())


def _is_gunicorn(command: bytes) -> bool:
    """`python .../bin/gunicorn ...` (master and forked workers alike), not tini's
    command line, which merely names gunicorn as its argument."""
    argv = command.split(b"\0")
    return any(arg.endswith(b"/gunicorn") or arg == b"gunicorn" for arg in argv[:2])


def rss() -> None:
    """The master is the gunicorn process whose parent is not gunicorn (tini is PID 1)."""
    procs: dict[int, tuple[int, int]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read()
            with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
                status = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if _is_gunicorn(command):
            procs[int(pid)] = (int(status["PPid"]), int(status["VmRSS"].split()[0]) // 1024)
    masters = [pid for pid, (parent, _) in procs.items() if parent not in procs]
    workers = [mib for pid, (parent, mib) in procs.items() if parent in masters]
    print(json.dumps({"master_mib": [procs[pid][1] for pid in masters], "workers_mib": workers}))


if __name__ == "__main__":
    if sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3])
    else:
        rss()
