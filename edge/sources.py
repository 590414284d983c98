"""Frame sources: a webcam index, a video file, a stream URL or a folder of images.

Each yields `Frame`s with the source's own clock (`position_s`: media time for files,
seconds since opening for live sources) and the UTC wall-clock capture time, which a crop
keeps all the way to the cloud, through the spool if need be.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass(frozen=True)
class Frame:
    index: int  # position in the source, counting frames skipped by sampling
    image: np.ndarray  # BGR
    position_s: float
    captured_at: datetime


class SourceError(RuntimeError):
    """A source cannot be opened."""


def _now_utc() -> datetime:
    return datetime.now(UTC)


class VideoSource:
    """Anything `cv2.VideoCapture` opens: a webcam index, a file, an RTSP/HTTP URL."""

    def __init__(self, spec: str | int) -> None:
        self.live = isinstance(spec, int) or not Path(str(spec)).is_file()
        self._capture = cv2.VideoCapture(spec)
        if not self._capture.isOpened():
            raise SourceError(f"cannot open video source {spec!r}")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 and not self.live else None

    def __iter__(self) -> Iterator[Frame]:
        started = time.monotonic()
        index = 0
        try:
            while True:
                ok, image = self._capture.read()
                if not ok:
                    return
                if self.live or self.fps is None:
                    position = time.monotonic() - started
                else:
                    position = index / self.fps
                yield Frame(index, image, position, _now_utc())
                index += 1
        finally:
            self._capture.release()


def image_files(folder: Path) -> list[Path]:
    """The image files of `folder` (by suffix, no subfolders) in name order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ImageFolderSource:
    """The images of a folder in name order, `seconds_per_image` apart on the source clock
    (default 1 s: unrelated stills should not look like one continuous scene)."""

    live = False

    def __init__(self, folder: Path, seconds_per_image: float = 1.0) -> None:
        self.paths = image_files(folder)
        self.seconds_per_image = seconds_per_image
        self.fps = 1.0 / seconds_per_image
        self.frame_count = len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("skipping unreadable image %s", path)
                continue
            yield Frame(index, image, index * self.seconds_per_image, _now_utc())


def open_source(spec: str) -> VideoSource | ImageFolderSource:
    """A digit string is a webcam index, a folder is a folder of images, anything else
    goes to OpenCV (a file path or a stream URL)."""
    if spec.isdigit():
        return VideoSource(int(spec))
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path)
    if "://" not in spec and not path.exists():
        raise SourceError(f"{spec} does not exist")
    return VideoSource(spec)


def sample_frames(
    frames: Iterable[Frame], target_fps: float | None = None, skip_frames: int = 0
) -> Iterator[Frame]:
    """Keep one frame, then drop `skip_frames`; of those, keep at most `target_fps` a
    second of source time (None: no limit)."""
    interval = 1.0 / target_fps if target_fps else 0.0
    next_due = float("-inf")
    for count, frame in enumerate(frames):
        if count % (skip_frames + 1):
            continue
        if frame.position_s + 1e-9 < next_due:
            continue
        # Anchored schedule (due += interval) so 25 fps sampled at 10 gives 10, not 8.3;
        # re-anchored after a gap so a stall is not followed by a burst.
        if next_due < frame.position_s - interval:
            next_due = frame.position_s + interval
        else:
            next_due += interval
        yield frame
