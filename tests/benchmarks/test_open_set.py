"""The open-set benchmark's protocol and its reading of the API's decision code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from api.recognition.gallery import GALLERY_DTYPE
from api.recognition.matcher import identify
from benchmarks.open_set_identification import (
    ENROL_POOL,
    Protocol,
    build_protocol,
    decisions,
    enrolled_index,
    sweep,
    trained_release,
)
from tests.shared_data import shared_path

DIM = 16


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def synthetic() -> tuple[Protocol, dict[Path, np.ndarray]]:
    """4 people with 5 enrol images and 3 probes each around their own centre; 6 strangers.
    Person p3's second enrol image has no face (no vector)."""
    rng = np.random.default_rng(7)
    centres = unit(rng.normal(size=(4, DIM)))
    vectors: dict[Path, np.ndarray] = {}
    enrol, probes = {}, []
    for i, centre in enumerate(centres):
        person = f"p{i}"
        enrol[person] = [Path(f"{person}/e{j}.jpg") for j in range(ENROL_POOL)]
        for path in enrol[person]:
            vectors[path] = unit(centre + rng.normal(scale=0.35, size=DIM))
        for j in range(3):
            path = Path(f"{person}/q{j}.jpg")
            probes.append((person, path))
            vectors[path] = unit(centre + rng.normal(scale=0.45, size=DIM))
    del vectors[Path("p3/e1.jpg")]
    strangers = [Path(f"s{j}.jpg") for j in range(6)]
    for path in strangers:
        vectors[path] = unit(rng.normal(size=DIM))
    return Protocol(enrol, probes, strangers), vectors


def test_the_shared_data_protocol() -> None:
    ident = shared_path("data", "lfw-ident20")
    view1 = shared_path("data", "lfw-view1")
    protocol = build_protocol(ident, view1, strangers=300)
    assert len(protocol.enrol) == 20
    assert all(len(images) == ENROL_POOL for images in protocol.enrol.values())
    assert len(protocol.probes) == 366 - 20 * ENROL_POOL
    enrolled = {image for images in protocol.enrol.values() for image in images}
    assert enrolled.isdisjoint(image for _, image in protocol.probes)
    assert len(protocol.strangers) == len(set(protocol.strangers)) == 300
    stranger_people = {image.parent.name for image in protocol.strangers}
    assert len(stranger_people) == 300 and stranger_people.isdisjoint(protocol.enrol)
    everyone = build_protocol(ident, view1, strangers=0).strangers
    assert len(everyone) > 900 and set(protocol.strangers) <= set(everyone)


def test_enrolment_takes_the_first_k_images_with_a_face(synthetic: tuple) -> None:
    protocol, vectors = synthetic
    index, owners = enrolled_index(protocol, vectors, k=3)
    assert owners == ["p0"] * 3 + ["p1"] * 3 + ["p2"] * 3 + ["p3"] * 3
    # p3's e1 had no face, so its third enrolled image is e3
    expected = vectors[Path("p3/e3.jpg")].astype(GALLERY_DTYPE)  # as the gallery holds it
    np.testing.assert_array_equal(index.snapshot.vectors[-1], expected)
    assert enrolled_index(protocol, vectors, k=5)[1].count("p3") == 4


@pytest.mark.parametrize("with_release", [True, False])
def test_one_call_then_a_threshold_sweep_equals_identify_at_each_threshold(
    synthetic: tuple, with_release: bool
) -> None:
    protocol, vectors = synthetic
    index, _ = enrolled_index(protocol, vectors, k=3)
    release = trained_release(index, "facenet128") if with_release else None
    probes = [path for _, path in protocol.probes] + protocol.strangers + [Path("none.jpg")]
    winners, sims = decisions(probes, vectors, release, index)
    assert winners[-1] is None and sims[-1] == -np.inf  # an image without a face
    for threshold in (0.0, 0.3, 0.5, 0.55, 0.7, 0.9):
        for path, winner, sim in zip(probes[:-1], winners, sims, strict=False):
            named = identify(vectors[path], release, index, threshold, top_k=1).person_id
            assert named == (winner if sim >= threshold else None)


def test_sweep_rates_by_hand() -> None:
    truth = ["a", "a", "b", "b"]
    winners = ["a", "b", "b", None]
    sims = np.array([0.8, 0.6, 0.4, -np.inf])
    strangers = np.array([0.7, 0.3, 0.1, 0.55])
    curve = sweep(truth, winners, sims, strangers)
    row = curve["threshold"].index(0.5)
    assert curve["dir"][row] == 0.25  # only the first probe: right and above 0.5
    assert curve["misidentified"][row] == 0.25  # the second: wrong and above
    assert curve["far"][row] == 0.5  # strangers at 0.7 and 0.55
    assert curve["dir"][0] == 0.5 and curve["far"][0] == 1.0  # threshold 0 accepts all faces
