"""A small IoU tracker that decides which faces are worth sending again.

A person walking past a camera is in dozens of consecutive frames; sending each of them
costs bandwidth and cloud time for the same answer. A face is sent when its track
appears, then only when a clearly better view arrives (a larger face, or a sharper one at
the same measuring scale) or after `resend_after_s`, so a person who stays is re-checked.
Time is the source's own clock (media time for a file), which keeps decisions the same
however fast the edge processes a recorded video.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

from edge.geometry import Box


class SendReason(StrEnum):
    NEW = "new"
    LARGER = "larger"
    SHARPER = "sharper"
    RESEND = "resend"
    UNTRACKED = "untracked"


@dataclass(frozen=True)
class TrackerConfig:
    """`iou_threshold`: overlap that continues a track; `max_age_s`: how long a track
    survives unseen; `larger_ratio`/`sharper_ratio`: how much better than the last sent
    view (area, Laplacian variance) counts as "clearly better"."""

    iou_threshold: float = 0.3
    max_age_s: float = 1.0
    larger_ratio: float = 1.5
    sharper_ratio: float = 1.5
    resend_after_s: float = 10.0


@dataclass
class Track:
    track_id: int
    box: Box
    last_seen_s: float
    sent_area: float = 0.0
    sent_sharpness: float = 0.0
    sent_at_s: float | None = None


class IouTracker:
    """Greedy IoU association, frame by frame; one instance per camera, one thread."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)
        self._last_update_s = float("inf")

    @property
    def active_tracks(self) -> int:
        return len(self._tracks)

    def reset(self) -> None:
        """Forget every track (a new shot begins). Ids keep counting, so an answer that
        arrives late for an old track can never name a face of the new shot."""
        self._tracks.clear()

    def update(self, boxes: list[Box], now_s: float) -> list[int]:
        """Assign each box a track id (new or continued); forget tracks unseen too long."""
        pairs = sorted(
            (
                (track.box.iou(box), track_id, index)
                for track_id, track in self._tracks.items()
                for index, box in enumerate(boxes)
            ),
            reverse=True,
        )
        assigned: dict[int, int] = {}
        used_tracks: set[int] = set()
        for iou, track_id, index in pairs:
            if iou < self.config.iou_threshold:
                break
            if track_id in used_tracks or index in assigned:
                continue
            assigned[index] = track_id
            used_tracks.add(track_id)
        for index, box in enumerate(boxes):
            if index not in assigned:
                assigned[index] = next(self._ids)
                self._tracks[assigned[index]] = Track(assigned[index], box, now_s)
            track = self._tracks[assigned[index]]
            track.box, track.last_seen_s = box, now_s
        # At a low --target-fps frames are further apart than max_age_s: a track must
        # survive at least one missed frame whatever the frame rate.
        max_age_s = max(self.config.max_age_s, 2 * (now_s - self._last_update_s))
        self._last_update_s = now_s
        for track_id in [
            t.track_id for t in self._tracks.values() if now_s - t.last_seen_s > max_age_s
        ]:
            del self._tracks[track_id]
        return [assigned[index] for index in range(len(boxes))]

    def decide(
        self, track_id: int, area: float, sharpness: float, now_s: float
    ) -> SendReason | None:
        """Why this view of the track should be sent (and record it as sent), or None.

        Strict comparisons: a track whose best sharpness is 0 (a flat crop) is not
        "sharper" again at 0."""
        track = self._tracks[track_id]
        config = self.config
        if track.sent_at_s is None:
            reason = SendReason.NEW
        elif area > track.sent_area * config.larger_ratio:
            reason = SendReason.LARGER
        elif sharpness > track.sent_sharpness * config.sharper_ratio:
            reason = SendReason.SHARPER
        elif now_s - track.sent_at_s >= config.resend_after_s:
            reason = SendReason.RESEND
        else:
            return None
        # Later views must beat the best sent so far, not merely the last one.
        track.sent_area = max(track.sent_area, area)
        track.sent_sharpness = max(track.sent_sharpness, sharpness)
        track.sent_at_s = now_s
        return reason
