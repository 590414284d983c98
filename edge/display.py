"""Drawing boxes with their labels, and an optional window that degrades to headless.

The window opens only when asked for, when a display exists and when this OpenCV build
has a GUI (opencv-python-headless has none): otherwise the programs run without one.
"""

from __future__ import annotations

import logging
import os
import sys

import cv2
import numpy as np

log = logging.getLogger(__name__)

BOX_COLOR = (255, 0, 255)
TEXT_COLOR = (0, 0, 0)


def draw_labelled_box(image: np.ndarray, box: tuple[int, int, int, int], text: str) -> None:
    """A box with its own label in a filled band under it (the label stays on its box)."""
    left, top, right, bottom = box
    thickness = max(1, round(max(image.shape[:2]) / 640))
    scale = 0.5 * thickness
    cv2.rectangle(image, (left, top), (right, bottom), BOX_COLOR, thickness)
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, 1)
    band_top = min(bottom, image.shape[0] - text_h - baseline - 4)
    cv2.rectangle(
        image,
        (left, band_top),
        (max(right, left + text_w + 6), band_top + text_h + baseline + 4),
        BOX_COLOR,
        cv2.FILLED,
    )
    cv2.putText(
        image,
        text,
        (left + 3, band_top + text_h + 2),
        cv2.FONT_HERSHEY_DUPLEX,
        scale,
        TEXT_COLOR,
        1,
    )


def has_display() -> bool:
    """False on a Linux box without X11/Wayland, where a window call would abort."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """A named OpenCV window; `open` returns None where no window can exist."""

    def __init__(self, title: str) -> None:
        self.title = title

    @classmethod
    def open(cls, title: str, wanted: bool = True) -> Window | None:
        if not wanted or not has_display():
            return None
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            log.warning("this OpenCV build has no GUI; running without a window")
            return None
        return cls(title)

    def show(self, image: np.ndarray) -> bool:
        """Show a frame; False once the user pressed q or Esc."""
        cv2.imshow(self.title, image)
        return cv2.waitKey(1) & 0xFF not in (ord("q"), 27)

    def close(self) -> None:
        cv2.destroyWindow(self.title)
