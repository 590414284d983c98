"""Release directories on the model volume: verified loading, atomic flips, pruning."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from api.recognition.release import (
    CHECKSUMS_FILE,
    CLASSIFIER_FILE,
    RELEASE_FILE,
    RELEASES_DIR,
    STAGING_PREFIX,
    Release,
    ReleaseError,
    ReleaseWatcher,
    activate_release,
    current_version,
    load_release,
    prune_releases,
    write_release,
)
from tests.training.releases import flip_a_bit, release


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
    flip_a_bit(tmp_path / RELEASES_DIR / bad.version / CLASSIFIER_FILE)
    with pytest.raises(ReleaseError, match="sha256"):
        load_release(tmp_path, bad.version)
    activate_release(tmp_path, bad.version)
    assert watcher.get().version == good.version
    foreign = Release(**{**release(2).__dict__, "embedder": "facenet512"})
    write_release(tmp_path, foreign)
    activate_release(tmp_path, foreign.version)
    assert watcher.get().version == good.version


def test_a_worker_started_while_current_is_damaged_serves_the_newest_earlier_release(
    tmp_path: Path,
) -> None:
    """A pod restarted while `current` is damaged: its siblings kept the release before;
    it serves the newest earlier one that loads (a damaged one and one of another embedder
    passed over, a newer one never taken), and `current` once repaired."""
    oldest, good, foreign, damaged_earlier, live, newer = (release(n) for n in range(2, 8))
    foreign = Release(**{**foreign.__dict__, "embedder": "facenet512"})
    written = [oldest, good, foreign, damaged_earlier, live, newer]
    assert [item.version for item in written] == sorted(item.version for item in written)
    for item in written:
        write_release(tmp_path, item)
    flip_a_bit(tmp_path / RELEASES_DIR / damaged_earlier.version / CLASSIFIER_FILE)
    original = flip_a_bit(tmp_path / RELEASES_DIR / live.version / CLASSIFIER_FILE)
    activate_release(tmp_path, live.version)
    now = [0.0]
    watcher = ReleaseWatcher(tmp_path, "facenet128", clock=lambda: now[0])
    assert watcher.get().version == good.version
    assert watcher.get().version == good.version  # current is retried on its backoff only
    (tmp_path / RELEASES_DIR / live.version / CLASSIFIER_FILE).write_bytes(original)
    now[0] += 1.0
    assert watcher.get().version == live.version


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


def test_every_file_of_a_release_is_checksummed_release_json_included(tmp_path: Path) -> None:
    """The threshold and labels decide who is named: a release.json changed on the volume
    (a looser threshold, swapped labels) is refused like damaged arrays."""
    written = release(3)
    folder = write_release(tmp_path, written)
    sums = (folder / CHECKSUMS_FILE).read_text().splitlines()
    assert sorted(line.split("  ")[1] for line in sums) == [CLASSIFIER_FILE, RELEASE_FILE]
    meta = json.loads((folder / RELEASE_FILE).read_text())
    (folder / RELEASE_FILE).write_text(json.dumps({**meta, "threshold": -1.0}))
    with pytest.raises(ReleaseError, match=re.escape(f"{RELEASE_FILE} fails its sha256 check")):
        load_release(tmp_path, written.version)
    (folder / RELEASE_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    assert load_release(tmp_path, written.version).threshold == 0.55
    (folder / "extra.npz").write_bytes(b"unlisted")  # nothing unaccounted for is accepted
    with pytest.raises(ReleaseError, match=re.escape("extra.npz")):
        load_release(tmp_path, written.version)
    (folder / "extra.npz").unlink()
    (folder / CHECKSUMS_FILE).unlink()
    with pytest.raises(ReleaseError, match=CHECKSUMS_FILE):
        load_release(tmp_path, written.version)


def test_the_staging_directory_is_fsynced_before_its_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Power loss cannot be caused here: the order of fsync and rename is observed instead
    (a spy on os.fsync and os.replace that records which path each one touched)."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source: object, target: object) -> None:
        events.append(("replace", str(source)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    written = release(2)
    write_release(tmp_path, written)
    staging = str(tmp_path / RELEASES_DIR / f"{STAGING_PREFIX}{written.version}")
    renamed = events.index(("replace", staging))
    synced = [path for kind, path in events[:renamed] if kind == "fsync"]
    for name in (CLASSIFIER_FILE, RELEASE_FILE, CHECKSUMS_FILE):
        assert f"{staging}/{name}" in synced
    assert staging in synced  # the directory's entries, not only the files' bytes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _served_metric(version: str) -> float | None:
    return REGISTRY.get_sample_value(
        "facerec_model_release_served", {"version": version, "worker": str(os.getpid())}
    )


def test_a_release_that_failed_to_load_is_retried_with_backoff(tmp_path: Path) -> None:
    """Storage lag right after the flip: the release is not complete on this worker's view
    of the volume yet. The old one serves meanwhile, the new one once it can be read."""
    clock = Clock()
    watcher = ReleaseWatcher(tmp_path, "facenet128", clock=clock)
    old, new = release(2), release(4)
    write_release(tmp_path, old)
    activate_release(tmp_path, old.version)
    assert watcher.get().version == old.version
    assert _served_metric(old.version) == 1
    folder = write_release(tmp_path, new)
    arrays = (folder / CLASSIFIER_FILE).read_bytes()
    (folder / CLASSIFIER_FILE).unlink()  # not there yet
    activate_release(tmp_path, new.version)
    assert watcher.get().version == old.version  # attempt 1 fails
    (folder / CLASSIFIER_FILE).write_bytes(arrays)  # the volume caught up
    clock.now += 0.9
    assert watcher.get().version == old.version  # within the first second: not retried
    clock.now += 0.2
    assert watcher.get().version == new.version  # retried, served
    assert _served_metric(new.version) == 1 and _served_metric(old.version) == 0

    # Backoff doubles while a release keeps failing, up to a minute.
    newer = release(5)
    folder = write_release(tmp_path, newer)
    (folder / CLASSIFIER_FILE).unlink()
    activate_release(tmp_path, newer.version)
    retries = []
    for _ in range(9):
        start = clock.now
        assert watcher.get().version == new.version
        while watcher._may_try(newer.version) is False:
            clock.now += 0.25
        retries.append(clock.now - start)
    assert retries[:4] == [1.0, 2.0, 4.0, 8.0]
    assert retries[-1] == 60.0
