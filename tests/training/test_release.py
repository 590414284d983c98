"""Release directories on the model volume: verified loading, atomic flips, pruning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from api.recognition.classifier import LinearClassifier
from api.recognition.release import (
    CLASSIFIER_FILE,
    RELEASES_DIR,
    Release,
    ReleaseError,
    ReleaseWatcher,
    activate_release,
    current_version,
    load_release,
    new_version,
    prune_releases,
    write_release,
)


def release(people: int) -> Release:
    rng = np.random.default_rng(people)
    classifier = LinearClassifier(
        labels=tuple(f"p{i}" for i in range(people)),
        coef=rng.standard_normal((people, 128)).astype(np.float32),
        intercept=rng.standard_normal(people).astype(np.float32),
        temperature=7.5,
    )
    return Release(new_version(), "facenet128", 0.55, "2026-01-01T00:00:00", classifier, people * 3)


def test_written_release_loads_back_identically_and_serves_after_the_flip(tmp_path: Path) -> None:
    watcher = ReleaseWatcher(tmp_path, "facenet128")
    assert watcher.get() is None  # nothing trained yet
    written = release(4)
    write_release(tmp_path, written)
    assert watcher.get() is None  # written is not live
    activate_release(tmp_path, written.version)
    served = watcher.get()
    assert served is not None and served.version == written.version
    assert served.classifier.labels == written.classifier.labels
    np.testing.assert_array_equal(served.classifier.coef, written.classifier.coef)
    assert served.classifier.temperature == 7.5 and served.faces == 12
    assert watcher.get() is served  # one readlink, no reload


def test_corrupt_or_foreign_release_is_refused_and_the_old_one_keeps_serving(
    tmp_path: Path,
) -> None:
    watcher = ReleaseWatcher(tmp_path, "facenet128")
    good, bad = release(3), release(5)
    for item in (good, bad):
        write_release(tmp_path, item)
    activate_release(tmp_path, good.version)
    assert watcher.get().version == good.version
    arrays = tmp_path / RELEASES_DIR / bad.version / CLASSIFIER_FILE
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    arrays.write_bytes(bytes(data))
    with pytest.raises(ReleaseError, match="sha256"):
        load_release(tmp_path, bad.version)
    activate_release(tmp_path, bad.version)
    assert watcher.get().version == good.version
    foreign = Release(**{**release(2).__dict__, "embedder": "facenet512"})
    write_release(tmp_path, foreign)
    activate_release(tmp_path, foreign.version)
    assert watcher.get().version == good.version


def test_prune_keeps_the_newest_and_the_live_release_and_clears_dead_leftovers(
    tmp_path: Path,
) -> None:
    versions = []
    for people in range(2, 7):
        item = release(people)
        write_release(tmp_path, item)
        versions.append(item.version)
    activate_release(tmp_path, versions[0])  # an operator rolled back to the oldest
    (tmp_path / RELEASES_DIR / ".staging-dead").mkdir()  # a runner killed mid-write
    (tmp_path / ".current.dead").symlink_to("releases/nowhere")
    removed = prune_releases(tmp_path, keep=2)
    assert removed == versions[1:3]
    remaining = sorted(p.name for p in (tmp_path / RELEASES_DIR).iterdir())
    assert remaining == sorted([versions[0], *versions[3:]])
    assert current_version(tmp_path) == versions[0]
    assert not list(tmp_path.glob(".current.*"))
