"""Applying an operator's correction of a sighting, in one transaction.

"This is x": the sighting is relabelled x and, when its face is good enough to enrol
(MIN_ENROL_QUALITY) and of the current embedder, the face joins x's faces (through the
enrolment path: the gallery version moves, every worker sees it at once). "Not who you
said" (person_id null): the sighting becomes unknown again. Either way the face becomes
a negative face of the person it was wrongly given to (api/corrections/negatives.py), so
that person is not named for it, or for faces closer to it than to their own, again.
"""

from __future__ import annotations

from typing import Any

from api.db import corrections as corrections_db
from api.db import events as events_db
from api.db import people as people_db
from api.errors import not_found
from api.services import Services
from api.unknowns.naming import sighting_face


def correct_event(
    services: Services, event_id: int, person_id: str | None, key_id: str | None
) -> dict[str, Any]:
    """Apply the correction; what was learnt from it. 404 without the event or person."""
    embedder = services.analyzer.embedder.name
    with services.engine.begin() as conn:
        event = events_db.get_event(conn, event_id)
        if event is None:
            raise not_found("event", event_id)
        if person_id is not None and not people_db.person_exists(conn, person_id):
            raise not_found("person", person_id)
        previous = event["person_id"]
        face = corrections_db.stored_face(conn, event_id)
        usable = face is not None and face.embedder == embedder
        corrections_db.relabel(conn, event_id, person_id)
        corrections_db.add_correction(conn, event_id, previous, person_id, key_id)
        negative_of = previous if previous is not None and previous != person_id else None
        if negative_of is not None and usable:
            corrections_db.add_negative(conn, negative_of, event_id, embedder, face.vector)
        face_ids: list[int] = []
        quality = event["quality"]
        enrollable = quality is not None and quality >= services.settings.min_enrol_quality
        if person_id is not None and person_id != previous and usable and enrollable:
            face_ids = people_db.add_faces(
                conn, person_id, embedder, [sighting_face(face.jpeg, face.vector)]
            )
    return {
        "negative_of": negative_of if usable else None,
        "face_ids_added": face_ids,
    }
