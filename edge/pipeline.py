"""One frame through the edge: detect, track, crop, decide, hand the crop to a sink."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from edge.accounting import EdgeStats
from edge.crops import CropPolicy, encode_jpeg, make_crop
from edge.detectors import FaceDetector
from edge.geometry import Detection
from edge.scenecut import SceneCutDetector
from edge.sources import Frame
from edge.spool import SpooledCrop
from edge.tracker import IouTracker, SendReason

log = logging.getLogger(__name__)

CropSink = Callable[[SpooledCrop, int | None], None]


@dataclass(frozen=True)
class FaceObservation:
    """A face in one frame: its detection, track and why it was sent (None: not sent)."""

    detection: Detection
    track_id: int | None
    sent: SendReason | None


class EdgePipeline:
    """Per camera. `tracker=None` sends every face of every frame (the baseline the
    tracker is measured against); `sink` receives each crop to send (the Sender's
    `submit`, or a collector); at a scene cut every track ends (see edge.scenecut)."""

    def __init__(
        self,
        detector: FaceDetector,
        policy: CropPolicy,
        stats: EdgeStats,
        sink: CropSink,
        tracker: IouTracker | None = None,
        camera_id: str = "camera-0",
        location: str = "",
        measure_full_frames: bool = True,
    ) -> None:
        self.detector = detector
        self.policy = policy
        self.stats = stats
        self.sink = sink
        self.tracker = tracker
        self.camera_id = camera_id
        self.location = location
        self.measure_full_frames = measure_full_frames
        self.scene_cuts = SceneCutDetector()

    def process(self, frame: Frame) -> list[FaceObservation]:
        detections = self.detector.detect(frame.image)
        self.stats.add("frames")
        if self.measure_full_frames:
            full = encode_jpeg(frame.image, self.policy.jpeg_quality)
            self.stats.add("full_frame_bytes", len(full))
        self.stats.add("faces_detected", len(detections))
        if self.tracker is not None:
            if self.scene_cuts.is_cut(frame.image):
                log.debug("scene cut at frame %d: every track ends", frame.index)
                self.tracker.reset()
            track_ids: list[int | None] = list(
                self.tracker.update([d.box for d in detections], frame.position_s)
            )
        else:
            track_ids = [None] * len(detections)
        return [
            self._observe(frame, detection, track_id)
            for detection, track_id in zip(detections, track_ids, strict=True)
        ]

    def _observe(self, frame: Frame, detection: Detection, track_id: int | None) -> FaceObservation:
        crop = make_crop(frame.image, detection.box, self.policy)
        if crop is None:
            self.stats.add("faces_too_small")
            return FaceObservation(detection, track_id, None)
        if self.tracker is None or track_id is None:
            reason: SendReason | None = SendReason.UNTRACKED
        else:
            reason = self.tracker.decide(track_id, crop.face_area, crop.sharpness, frame.position_s)
        if reason is None:
            self.stats.add("faces_deduplicated")
            return FaceObservation(detection, track_id, None)
        jpeg = encode_jpeg(crop.image, self.policy.jpeg_quality)
        self.stats.add("crops_sent")
        self.stats.add("crop_bytes", len(jpeg))
        self.sink(SpooledCrop(jpeg, frame.captured_at, self.camera_id, self.location), track_id)
        return FaceObservation(detection, track_id, reason)
