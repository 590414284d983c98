"""The tracker: continuity by IoU, send-worthy views, and what it saves on a real video."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from edge.accounting import EdgeStats
from edge.crops import CropPolicy
from edge.detectors import FaceDetector
from edge.geometry import Box, Detection
from edge.pipeline import EdgePipeline
from edge.sources import open_source
from edge.tracker import IouTracker, SendReason, TrackerConfig
from tests.edge.conftest import facenet_video
from tests.edge.scene_truth import VIDEO_FACES, contains


def test_a_moving_face_keeps_its_track_and_a_new_face_gets_a_new_one() -> None:
    tracker = IouTracker()
    first = tracker.update([Box(100, 100, 200, 200)], 0.0)
    moved = tracker.update([Box(110, 105, 210, 205), Box(400, 100, 480, 180)], 0.04)
    assert moved[0] == first[0]
    assert moved[1] != first[0]


def test_crossing_faces_keep_the_best_overlapping_tracks() -> None:
    tracker = IouTracker()
    a, b = tracker.update([Box(0, 0, 100, 100), Box(90, 0, 190, 100)], 0.0)
    # Both move right by 5 px: each must stay with its own track, not swap.
    assert tracker.update([Box(95, 0, 195, 100), Box(5, 0, 105, 100)], 0.04) == [b, a]


def test_a_track_unseen_for_longer_than_max_age_is_forgotten() -> None:
    tracker = IouTracker(TrackerConfig(max_age_s=1.0))
    (first,) = tracker.update([Box(0, 0, 50, 50)], 0.0)
    for tenth in range(1, 9):  # 10 frames a second, the face hidden for 0.8 s
        tracker.update([], tenth / 10)
    assert tracker.update([Box(0, 0, 50, 50)], 0.9) == [first]  # back within a second
    for tenth in range(10, 21):
        tracker.update([], tenth / 10)
    assert tracker.active_tracks == 0
    assert tracker.update([Box(0, 0, 50, 50)], 2.1) != [first]


def test_at_a_low_frame_rate_one_missed_frame_does_not_end_a_track() -> None:
    tracker = IouTracker(TrackerConfig(max_age_s=1.0))
    (first,) = tracker.update([Box(0, 0, 50, 50)], 0.0)
    tracker.update([], 2.0)  # 0.5 fps: the face is missed once
    assert tracker.update([Box(0, 0, 50, 50)], 4.0) == [first]


def test_sent_on_appearance_then_only_for_a_clearly_better_view() -> None:
    tracker = IouTracker(TrackerConfig(larger_ratio=1.5, sharper_ratio=1.5, resend_after_s=10))
    (track,) = tracker.update([Box(0, 0, 50, 50)], 0.0)
    assert tracker.decide(track, 2500, 100.0, 0.0) is SendReason.NEW
    assert tracker.decide(track, 3000, 120.0, 0.1) is None  # a bit larger, a bit sharper
    assert tracker.decide(track, 4000, 120.0, 0.2) is SendReason.LARGER
    assert tracker.decide(track, 3000, 160.0, 0.3) is None  # not 1.5x the best sent (120)
    assert tracker.decide(track, 3000, 181.0, 0.4) is SendReason.SHARPER
    assert tracker.decide(track, 3000, 100.0, 10.3) is None
    assert tracker.decide(track, 3000, 100.0, 10.4) is SendReason.RESEND


@dataclass
class ReplayDetector:
    """Stands in for a detector on facenet_video: answers each frame, in order, with
    what the real one found there (the session's `video_detections`)."""

    name: str
    threshold: float
    answers: Iterator[list[Detection]]

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        return next(self.answers)


@dataclass
class VideoRun:
    stats: EdgeStats
    sent_tracks: set[int]
    tracks_at_truth: dict[tuple[int, str], list[int]]


def run_video(detector: FaceDetector, tracker: IouTracker | None) -> VideoRun:
    stats = EdgeStats()
    sent: set[int] = set()
    pipeline = EdgePipeline(
        detector,
        CropPolicy(),
        stats,
        lambda crop, track_id: sent.add(track_id if track_id is not None else -1),
        tracker,
    )
    at_truth: dict[tuple[int, str], list[int]] = {}
    for frame in open_source(str(facenet_video())):
        observations = pipeline.process(frame)
        for who, point in VIDEO_FACES.get(frame.index, {}).items():
            at_truth[(frame.index, who)] = [
                seen.track_id
                for seen in observations
                if seen.track_id is not None and contains(seen.detection, point)
            ]
    return VideoRun(stats, sent, at_truth)


@pytest.fixture(scope="module")
def runs(
    detector: FaceDetector, video_detections: dict[int, list[Detection]]
) -> tuple[VideoRun, VideoRun]:
    """The same video without and with the tracker (its detections replayed)."""

    def replay() -> ReplayDetector:
        return ReplayDetector(detector.name, detector.threshold, iter(video_detections.values()))

    return run_video(replay(), None), run_video(replay(), IouTracker())


@pytest.mark.slow
def test_the_tracker_cuts_the_crops_sent_more_than_tenfold(
    runs: tuple[VideoRun, VideoRun],
) -> None:
    # Measured on the 105 frames: UltraFace-640 558 -> 35 crops, RetinaFace 521 -> 27,
    # UltraFace-320 411 -> 27. Faces stay in view for seconds, so most views are repeats.
    baseline, tracked = runs
    assert baseline.stats["crops_sent"] == baseline.stats["faces_detected"]
    assert tracked.stats["faces_detected"] == baseline.stats["faces_detected"]
    assert tracked.stats["crops_sent"] * 10 < baseline.stats["crops_sent"]
    assert (
        tracked.stats["crops_sent"] + tracked.stats["faces_deduplicated"]
        == tracked.stats["faces_detected"] - tracked.stats["faces_too_small"]
    )


@pytest.mark.slow
def test_no_person_who_appears_goes_unsent(runs: tuple[VideoRun, VideoRun]) -> None:
    """Every face located by eye that the detector finds belongs to a track that sent a
    crop, and two people in the same frame never share a track."""
    _, tracked = runs
    found = {key: ids for key, ids in tracked.tracks_at_truth.items() if ids}
    assert found  # the detector tests pin how many
    for key, track_ids in found.items():
        assert len(track_ids) == 1, key
        assert track_ids[0] in tracked.sent_tracks, key
    for frame in VIDEO_FACES:
        ids = [ids[0] for (index, _), ids in found.items() if index == frame]
        assert len(ids) == len(set(ids))


@pytest.mark.slow
def test_crops_cost_a_small_fraction_of_full_frames(runs: tuple[VideoRun, VideoRun]) -> None:
    """A 1080p frame is ~300 KB as JPEG at quality 90; a face crop (<= 256 px) 3-5 KB.
    Measured with UltraFace-640: 6.9% of the full-frame bytes sending every face of every
    frame, 0.35% with the tracker (RetinaFace 6.9% and 0.29%, UltraFace-320 5.5% and 0.35%)."""
    baseline, tracked = runs
    assert baseline.stats.summary()["bandwidth_fraction"] < 0.10
    assert tracked.stats.summary()["bandwidth_fraction"] < 0.01
    assert baseline.stats["full_frame_bytes"] == tracked.stats["full_frame_bytes"]
