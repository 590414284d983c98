"""Storing sightings: each recognition event with its face, in one transaction.

`record_sightings` is the one place events are written (recognise, and the original
framework's store-results): whatever must commit or roll back together with a sighting
(its face here; an alert's outbox row) belongs in it.
"""

from __future__ import annotations

import cv2
import numpy as np
from sqlalchemy import Connection

from api.db.events import NewEvent, add_events
from api.db.sightings import NewSightingFace, add_faces

# The aligned crop (160 x 160, what the embedder saw) at this JPEG quality is ~5 KiB
# (benchmarks/sighting_search.py measures it): enough for an operator to recognise a
# face, small enough for a year of sightings.
FACE_JPEG_QUALITY = 80


def face_jpeg(crop: np.ndarray) -> bytes:
    """JPEG bytes of an RGB uint8 crop."""
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, FACE_JPEG_QUALITY]
    )
    if not ok:
        raise ValueError("the face crop could not be encoded as JPEG")
    return encoded.tobytes()


def record_sightings(
    conn: Connection, events: list[NewEvent], faces: list[NewSightingFace]
) -> list[int]:
    """Store `events` and their `faces` (same order) in the caller's transaction; returns
    the new event ids in that order."""
    event_ids = add_events(conn, events)
    add_faces(conn, event_ids, faces)
    return event_ids
