"""Grouping an unknown face as it arrives, in its event's transaction.

The nearest stored sighting is found with the worker's search index
(api/sightings/search.py, refreshed incrementally from the database, so it holds what
every worker stored); the face joins the group of the nearest unknown sighting at or above
the grouping similarity, else starts a group. Two workers seeing a new stranger at the
same moment may each start one: the re-grouping job (api/unknowns/regroup.py) merges them.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection

from api.db.unknowns import unknown_ids_of
from api.sightings.search import SearchFilter, SightingIndex
from api.unknowns.grouping import new_unknown_id

# Nearest sightings looked up for a group (known people's sightings are skipped).
CANDIDATES = 50


def assign_unknowns(
    conn: Connection,
    index: SightingIndex,
    vectors: list[np.ndarray],
    eligible: list[bool],
    similarity: float,
) -> list[str | None]:
    """A group for each eligible face (unknown, good enough), None for the others.

    Faces of one image are different people: they never share a group.
    """
    if not any(eligible):
        return [None] * len(vectors)
    index.refresh(conn)
    chosen: list[str | None] = []
    for vector, ok in zip(vectors, eligible, strict=True):
        if not ok:
            chosen.append(None)
            continue
        event_ids, _scores = index.search(vector, similarity, SearchFilter())
        nearest = [int(event_id) for event_id in event_ids[:CANDIDATES]]
        groups = unknown_ids_of(conn, nearest)
        group = next(
            (groups[e] for e in nearest if e in groups and groups[e] not in chosen),
            None,
        )
        chosen.append(group or new_unknown_id())
    return chosen
