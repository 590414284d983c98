"""Noticing a cut between consecutive frames, so that no face track runs across it.

The IoU tracker links boxes by overlap alone, and the cloud's answer is kept per track.
In edited video (what video-recognition is given) a face in the next shot often overlaps
the box of another face in the last one: on the Hamilton clip Lin-Manuel Miranda's track
carried on to Barack Obama's face after the cut at frame 211, and Obama wore Lin's name
in the annotated video for 64 frames. A cut changes the colours of the whole frame at
once; people moving within a shot do not, so a colour-histogram distance tells them apart.

Measured (Bhattacharyya distance between 8x4x4 HSV histograms of the frames at 160x90):
across the three cuts of the Hamilton clip 0.37-0.47; within a shot at most 0.09 from
one frame to the next and 0.20 half a second apart (a turning head in close-up), and at
most 0.08 on facenet_pytorch_video.mp4 (people walking). The threshold 0.3 sits between.
A false cut only costs a resend of the faces in view; a missed one, a wrong name.
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_THRESHOLD = 0.3
_THUMBNAIL = (160, 90)
_BINS = [8, 4, 4]
_RANGES = [0, 180, 0, 256, 0, 256]


def colour_histogram(frame_bgr: np.ndarray) -> np.ndarray:
    """Normalised hue/saturation/value histogram of the whole frame, shrunk first: the
    frame's colours, not its detail (and cheap at any resolution)."""
    small = cv2.resize(frame_bgr, _THUMBNAIL, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    histogram = cv2.calcHist([hsv], [0, 1, 2], None, _BINS, _RANGES)
    return cv2.normalize(histogram, histogram).flatten()


class SceneCutDetector:
    """Compares each frame with the previous one it was shown; one per camera."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def is_cut(self, frame_bgr: np.ndarray) -> bool:
        """True when this frame starts a new shot (never for the first frame)."""
        histogram = colour_histogram(frame_bgr)
        previous, self._previous = self._previous, histogram
        if previous is None:
            return False
        distance = cv2.compareHist(previous, histogram, cv2.HISTCMP_BHATTACHARYYA)
        return distance > self.threshold
