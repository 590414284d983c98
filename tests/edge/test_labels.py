"""Names stay on their own faces, whatever order the cloud's answers come back in."""

from __future__ import annotations

from edge.labels import Identity, TrackLabels, identity_from_answer


def answer(person_id: str | None, confidence: float, box: tuple[int, int, int, int]) -> dict:
    left, top, right, bottom = box
    return {
        "person_id": person_id,
        "name": person_id.title() if person_id else None,
        "confidence": confidence,
        "similarity": confidence,
        "box": {"left": left, "top": top, "right": right, "bottom": bottom},
        "candidates": [],
    }


def test_the_main_face_of_a_crop_is_the_largest_one() -> None:
    identity = identity_from_answer(
        {
            "faces": [
                answer("neighbour", 0.9, (0, 0, 20, 30)),
                answer("ada", 0.8, (20, 10, 120, 130)),
            ]
        }
    )
    assert identity == Identity("ada", "Ada", 0.8, 0.8)
    assert identity_from_answer({"model_version": "v1", "faces": []}) is None


def test_answers_out_of_order_land_on_their_own_tracks() -> None:
    labels = TrackLabels()
    labels.update(2, Identity("grace", "Grace", 0.91, 0.7))  # track 2 answered first
    labels.update(1, Identity("ada", "Ada", 0.88, 0.7))
    assert labels.text(1) == "Ada 0.88"
    assert labels.text(2) == "Grace 0.91"
    assert labels.text(3) == "..."  # no answer yet


def test_a_known_answer_beats_unknown_and_low_confidence_shows_unknown() -> None:
    labels = TrackLabels()
    labels.update(1, Identity(None, None, 0.0, 0.2))
    assert labels.text(1) == "unknown"
    labels.update(1, Identity("ada", "Ada", 0.6, 0.6))
    labels.update(1, Identity(None, None, 0.0, 0.1))  # a later blurred view
    assert labels.text(1) == "Ada 0.60"
    assert labels.text(1, min_confidence=0.8) == "unknown"


def test_a_crop_the_cloud_finds_no_face_in_is_marked_as_such() -> None:
    labels = TrackLabels()
    labels.record(4, {"model_version": "v1", "faces": []})  # a hand, not a face
    assert labels.answered(4) and labels.get(4) is None
    assert labels.text(4) == "no face"
    labels.record(4, {"faces": [answer("ada", 0.9, (0, 0, 50, 60))]})
    assert labels.text(4) == "Ada 0.90"
