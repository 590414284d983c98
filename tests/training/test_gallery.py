"""The in-memory gallery: exact best-people search, and the per-release view of it."""

from __future__ import annotations

import numpy as np
import pytest

from api.db.gallery import GallerySnapshot
from api.recognition.classifier import LinearClassifier
from api.recognition.gallery import GALLERY_DTYPE, GalleryIndex
from api.recognition.matcher import identify
from api.recognition.release import Release


def snapshot(owners: list[str], seed: int = 0) -> GallerySnapshot:
    vectors = np.random.default_rng(seed).standard_normal((len(owners), 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return GallerySnapshot(
        version=3,
        face_ids=np.arange(10, 10 + len(owners), dtype=np.int64),
        person_ids=tuple(owners),
        vectors=vectors,
    )


def stored(vectors: np.ndarray) -> np.ndarray:
    """The vectors as the gallery holds them (GALLERY_DTYPE), widened back to float32."""
    return vectors.astype(GALLERY_DTYPE).astype(np.float32)


def brute_force(snap: GallerySnapshot, probe: np.ndarray, exclude: set[str]) -> list[str]:
    """Best people by their best face, over the stored vectors: the search is exact on
    what it holds."""
    best: dict[str, float] = {}
    for person, similarity in zip(snap.person_ids, stored(snap.vectors) @ probe, strict=True):
        if person not in exclude:
            best[person] = max(best.get(person, -2.0), float(similarity))
    return sorted(best, key=lambda person: -best[person])


def release_of(labels: tuple[str, ...]) -> Release:
    classifier = LinearClassifier(
        labels, np.zeros((len(labels), 128), np.float32), np.zeros(len(labels), np.float32), 1.0
    )
    return Release("r1", "facenet128", 0.5, "now", classifier, 0)


def test_rows_are_grouped_by_person_and_search_is_exact() -> None:
    rng = np.random.default_rng(1)
    owners = [f"p{i}" for i in rng.integers(0, 40, 300)]  # interleaved, as re-enrolment does
    snap = snapshot(owners)
    index = GalleryIndex.build(snap)
    assert index.people_count == 40 and index.snapshot.size == 300
    grouped = index.snapshot.person_ids
    assert all(
        grouped[i] == grouped[i + 1] or grouped[i + 1] not in grouped[:i] for i in range(299)
    )
    # Each face keeps its id and vector through the regrouping.
    by_id = dict(zip(snap.face_ids.tolist(), snap.vectors, strict=True))
    for face_id, vector in zip(
        index.snapshot.face_ids.tolist(), index.snapshot.vectors, strict=True
    ):
        np.testing.assert_array_equal(by_id[face_id].astype(GALLERY_DTYPE), vector)
    for probe in snapshot(["q"] * 20, seed=2).vectors:
        found = [person for person, _ in index.view(None).best_untrained(probe, 7)]
        assert found == brute_force(snap, probe, set())[:7]
        rows = zip(stored(snap.vectors), owners, strict=True)
        own = [float(v @ probe) for v, o in rows if o == "p3"]
        assert index.person_similarity(probe, "p3") == pytest.approx(max(own), abs=1e-6)


def test_rows_are_held_in_half_the_memory_within_a_thousandth_of_each_cosine() -> None:
    snap = snapshot([f"p{i % 50}" for i in range(2000)])
    index = GalleryIndex.build(snap)
    assert index.snapshot.vectors.dtype == np.float16
    assert index.snapshot.vectors.nbytes == snap.vectors.nbytes // 2
    order = np.argsort(index.snapshot.face_ids)  # the index regroups rows by person
    for probe in snapshot(["q"] * 20, seed=9).vectors:
        held = index.view(None).untrained @ probe
        assert held.dtype == np.float32
        assert np.abs(held[order] - snap.vectors @ probe).max() < 1e-3


def test_view_searches_only_people_the_release_does_not_know_and_masks_deleted_labels() -> None:
    owners = [f"p{i % 12}" for i in range(60)]
    snap = snapshot(owners)
    index = GalleryIndex.build(snap)
    trained = (*(f"p{i}" for i in range(10)), "deleted")
    view = index.view(release_of(trained))
    assert index.view(release_of(trained)) is view  # cached per release version
    assert view.live.tolist() == [True] * 10 + [False]
    assert len(view.untrained) == 10  # p10 and p11, five faces each
    for probe in snapshot(["q"] * 10, seed=5).vectors:
        found = [person for person, _ in view.best_untrained(probe, 2)]
        assert found == brute_force(snap, probe, set(trained))


def test_newcomer_is_named_before_retraining_and_a_deleted_label_never_is() -> None:
    owners = ["alice"] * 3 + ["bob"] * 3 + ["carol"] * 2
    index = GalleryIndex.build(snapshot(owners))
    release = release_of(("alice", "bob", "dave"))  # dave was deleted since the training
    carol = index.snapshot.vectors[-1]
    match = identify(carol, release, index, threshold=0.9, top_k=3)
    assert match.person_id == "carol" and match.similarity > 0.999
    assert all(candidate.person_id != "dave" for candidate in match.candidates)
