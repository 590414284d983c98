"""Model releases in tests: synthetic ones written straight to a model volume (no
training needed), and which release each gunicorn worker serves."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import requests

from api.recognition.classifier import LinearClassifier
from api.recognition.release import Release, new_version
from tests.live_api import ApiProcess, ask_each_worker

SERVED = re.compile(r"^facerec_model_release_served\{(?P<labels>[^}]*)\} 1\.0$", re.M)


def release(people: int) -> Release:
    """A facenet128 release of `people` labels p0, p1, ... with random weights."""
    rng = np.random.default_rng(people)
    classifier = LinearClassifier(
        labels=tuple(f"p{i}" for i in range(people)),
        coef=rng.standard_normal((people, 128)).astype(np.float32),
        intercept=rng.standard_normal(people).astype(np.float32),
        temperature=7.5,
    )
    return Release(new_version(), "facenet128", 0.55, "2026-01-01T00:00:00", classifier, people * 3)


def flip_a_bit(path: Path) -> bytes:
    """Damage a file as storage might (one bit in its middle); returns the original bytes."""
    original = path.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return original


def served_versions(api: ApiProcess) -> set[str | None]:
    """The releases `api`'s workers serve, each worker asked in turn (GET /readyz)."""
    assert api.process is not None
    answers = ask_each_worker(
        api.process.pid,
        lambda: requests.get(f"{api.url}/readyz", timeout=10).json()["model_version"],
    )
    assert len(answers) == api.workers, answers
    return set(answers.values())


def served_by_worker(metrics: str) -> dict[int, str]:
    """{worker pid: the release it serves}, from a /metrics text (multiprocess mode adds a
    pid label and orders labels its own way)."""
    served = {}
    for line in SERVED.finditer(metrics):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line["labels"]))
        served[int(labels["worker"])] = labels["version"]
    return served
