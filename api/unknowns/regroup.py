"""Re-grouping unknown faces: cluster the recent unknown sightings again, as a whole.

Arrival grouping (api/unknowns/assign.py) decides one face at a time from the nearest
sighting, so it can start two groups for one stranger (two workers at once, or a first
poor photo) and can chain two strangers through one look-alike. The periodic job clusters
the newest REGROUP_WINDOW unknown sightings with average linkage and writes the groups
back, keeping ids stable (api/unknowns/grouping.py). Only the events whose group changes
are written, and only while they are still unknown (a group named meanwhile stays named).

The window bounds the job's memory (average linkage keeps a condensed distance matrix:
8 bytes a pair, 100 MB at 5,000 sightings); older sightings keep the groups they have.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from api.db.unknowns import recent_unknown_vectors, set_groups
from api.unknowns.grouping import cluster, stable_ids


@dataclass(frozen=True)
class RegroupResult:
    sightings: int  # clustered
    groups: int  # after
    changed: int  # events whose group changed


def regroup(
    engine: Engine, embedder: str, dim: int, min_quality: float, similarity: float, window: int
) -> RegroupResult:
    """One re-grouping pass (the caller holds the lease)."""
    with engine.connect() as conn:
        recent = recent_unknown_vectors(conn, embedder, dim, min_quality, window)
    if not len(recent.event_ids):
        return RegroupResult(0, 0, 0)
    ids = stable_ids(recent.unknown_ids, cluster(recent.vectors, similarity))
    moves: dict[str, list[int]] = {}
    for event_id, old, new in zip(recent.event_ids, recent.unknown_ids, ids, strict=True):
        if old != new:
            moves.setdefault(new, []).append(int(event_id))
    changed = 0
    if moves:
        with engine.begin() as conn:
            changed = set_groups(conn, moves)
    return RegroupResult(len(ids), len(set(ids)), changed)
