"""Unknown people and corrections (issue 14), with the service's own code.

1. Grouping quality on held-out LFW people (../shared/data/lfw-view1-train people not in
   lfw-ident20, 4+ photos each, faces above MIN_MATCH_QUALITY, in a shuffled arrival
   order): B-cubed precision/recall/F1 of arrival grouping (each face joins the group of
   its nearest earlier face at or above GROUP_SIMILARITY, as api/unknowns/assign.py does)
   and of the re-grouping job's clustering (api/unknowns/grouping.py) with average,
   complete and single linkage, over a range of similarities.
2. Cost per sighting at 1k and 100k stored unknown sightings (SQLite, a file): the
   arrival path (refresh the worker's index, find the nearest sightings, read their
   groups, store the event and face: api.unknowns.assign + api.sightings.record) timed
   per sighting, and one re-grouping pass (its window is REGROUP_WINDOW sightings
   whatever the total). The stored vectors are synthetic clustered unit vectors (the cost
   does not depend on whose faces they are).
3. Corrections on LFW: the 20 people of lfw-ident20 enrolled from 5 photos each; the
   strangers of (1) probed at a lowered threshold, where many are wrongly named; for each
   stranger wrongly named, half of those photos are corrected ("wrong person": negative
   faces); wrong names among the stranger's other photos, and correct names of the
   enrolled people's own other photos, before and after (api.corrections.negatives).

Run: .venv/bin/python -m benchmarks.unknown_people [--quick]
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

from api.config import Settings
from api.corrections.negatives import NegativeIndex, with_negatives
from api.db.corrections import NegativeSnapshot
from api.db.engine import create_db_engine, utcnow
from api.db.events import NewEvent
from api.db.gallery import GallerySnapshot
from api.db.migrations import upgrade_schema
from api.db.schema import recognition_events, sighting_faces
from api.db.sightings import NewSightingFace
from api.recognition.gallery import GalleryIndex
from api.recognition.matcher import identify
from api.sightings.quality import face_quality
from api.sightings.record import record_sightings
from api.sightings.search import SightingIndex
from api.unknowns.assign import assign_unknowns
from api.unknowns.grouping import GROUP_SIMILARITY, cluster, new_unknown_id
from api.unknowns.regroup import regroup
from api.vision import MtcnnDetector, align_face, load_embedder
from benchmarks.bcubed import bcubed
from benchmarks.common import PRECISION, SHARED, load_average, markdown_table, write_result
from benchmarks.lfw import largest_face, read_rgb
from models.runtime import ModelStore, models_dir_from_env

log = logging.getLogger("benchmarks.unknown_people")

STRANGER_ROOT = SHARED / "data" / "lfw-view1-train"
IDENT_ROOT = SHARED / "data" / "lfw-ident20"
MIN_QUALITY = Settings().min_match_quality
ENROL = 5
SIMILARITIES = (0.45, 0.5, 0.55, 0.6, 0.65)
LOWERED = 0.4  # the correction experiment's naming threshold (shipped: 0.55)
DIM = 128
WINDOW = 5000
PLACEHOLDER_JPEG = b"\xff\xd8" + bytes(2000)  # a face's bytes (~5 KiB real): not read here


def embed_faces(paths: list[Path]) -> dict[Path, np.ndarray]:
    """The largest face of each image, embedded, where its quality reaches MIN_QUALITY."""
    store = ModelStore(models_dir_from_env())
    detector = MtcnnDetector(store, intra_op_threads=2)
    embedder = load_embedder("facenet128", store, 2, precision=PRECISION)
    vectors = {}
    for path in paths:
        rgb = read_rgb(path)
        face = largest_face(detector, rgb)
        if face is None:
            continue
        crop = align_face(rgb, face, embedder.crop)
        if face_quality(face, rgb).score >= MIN_QUALITY:
            vectors[path] = embedder.embed(crop[None])[0]
    return vectors


def arrival_labels(vectors: np.ndarray, similarity: float) -> list[int]:
    """api/unknowns/assign.py's rule, in memory: the nearest earlier face's group."""
    labels: list[int] = []
    for i, vector in enumerate(vectors):
        if i:
            scores = vectors[:i] @ vector
            nearest = int(np.argmax(scores))
            if scores[nearest] >= similarity:
                labels.append(labels[nearest])
                continue
        labels.append(max(labels, default=-1) + 1)
    return labels


def grouping_quality(truth: list[str], vectors: np.ndarray) -> list[dict[str, Any]]:
    from sklearn.cluster import AgglomerativeClustering

    rows = []
    for similarity in SIMILARITIES:
        results = {"arrival": arrival_labels(vectors, similarity)}
        results["average (shipped)"] = cluster(vectors, similarity).tolist()
        for linkage in ("complete", "single"):
            model = AgglomerativeClustering(
                n_clusters=None, metric="cosine", linkage=linkage, distance_threshold=1 - similarity
            )
            results[linkage] = model.fit_predict(vectors).tolist()
        for method, labels in results.items():
            precision, recall, f1 = bcubed(truth, labels)
            rows.append(
                {
                    "similarity": similarity,
                    "method": method,
                    "precision": round(precision, 4),
                    "recall": round(recall, 4),
                    "f1": round(f1, 4),
                    "groups": len(set(labels)),
                }
            )
    return rows


def synthetic(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` unit vectors around count/6 centres (strangers seen ~6 times), and labels."""
    people = max(1, count // 6)
    centres = rng.normal(size=(people, DIM)).astype(np.float32)
    labels = rng.integers(0, people, count)
    vectors = centres[labels] + rng.normal(scale=0.12, size=(count, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels


def arrival_cost(total: int, probes: int, folder: Path) -> dict[str, Any]:
    """Per-sighting time of the arrival path with `total` unknown sightings stored."""
    rng = np.random.default_rng(total)
    engine = create_db_engine(f"sqlite:///{folder / f'unknowns-{total}.sqlite3'}")
    upgrade_schema(engine)
    vectors, labels = synthetic(total + probes, rng)
    group_ids = [new_unknown_id() for _ in range(labels.max() + 1)]
    now = utcnow()
    with engine.begin() as conn:
        for start in range(0, total, 5000):
            stop = min(total, start + 5000)
            conn.execute(
                insert(recognition_events),
                [
                    {
                        "event_id": i + 1,
                        "captured_at": now,
                        "received_at": now,
                        "camera_id": f"cam-{i % 2}",
                        "box_left": 0,
                        "box_top": 0,
                        "box_right": 100,
                        "box_bottom": 100,
                        "quality": 0.8,
                        "unknown_id": group_ids[labels[i]],
                    }
                    for i in range(start, stop)
                ],
            )
            conn.execute(
                insert(sighting_faces),
                [
                    {
                        "event_id": i + 1,
                        "image": PLACEHOLDER_JPEG,
                        "embedder": "facenet128",
                        "dim": DIM,
                        "vector": vectors[i].tobytes(),
                    }
                    for i in range(start, stop)
                ],
            )
    index = SightingIndex("facenet128", DIM)
    with engine.connect() as conn:
        started = time.perf_counter()
        index.refresh(conn)
        load_seconds = time.perf_counter() - started
    times = []
    joined = 0
    for i in range(total, total + probes):
        started = time.perf_counter()
        with engine.begin() as conn:
            (group,) = assign_unknowns(conn, index, [vectors[i]], [True], GROUP_SIMILARITY)
            event = NewEvent(now, "cam-0", None, None, None, None, (0, 0, 9, 9), None, 0.8, group)
            face = NewSightingFace(PLACEHOLDER_JPEG, "facenet128", vectors[i])
            record_sightings(conn, [event], [face])
        times.append(time.perf_counter() - started)
        joined += group == group_ids[labels[i]]
    started = time.perf_counter()
    result = regroup(engine, "facenet128", DIM, MIN_QUALITY, GROUP_SIMILARITY, WINDOW)
    regroup_seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "stored": total,
        "probes": probes,
        "median_ms": round(statistics.median(times) * 1000, 2),
        "p95_ms": round(float(np.percentile(times, 95)) * 1000, 2),
        "joined_their_group": round(joined / probes, 3),
        "index_load_seconds": round(load_seconds, 2),
        "regroup_window": result.sightings,
        "regroup_seconds": round(regroup_seconds, 2),
    }


def correction_experiment(
    vectors: dict[Path, np.ndarray], strangers: dict[str, list[Path]]
) -> dict[str, Any]:
    people = {d.name: sorted(d.glob("*.jpg")) for d in sorted(IDENT_ROOT.iterdir()) if d.is_dir()}
    owners, rows = [], []
    for person, images in people.items():
        for image in images[:ENROL]:
            if image in vectors:
                owners.append(person)
                rows.append(vectors[image])
    index = GalleryIndex.build(
        GallerySnapshot(1, np.arange(len(owners)), tuple(owners), np.stack(rows))
    )
    probes = [
        (p, image) for p, images in people.items() for image in images[ENROL:] if image in vectors
    ]

    def named(vector: np.ndarray, negatives: NegativeIndex) -> str | None:
        match = identify(vector, None, index, LOWERED, top_k=5)
        return with_negatives(match, vector, negatives, LOWERED)[0].person_id

    empty = NegativeIndex({})
    wrong = {
        name: [(p, named(vectors[p], empty)) for p in paths if p in vectors]
        for name, paths in strangers.items()
    }
    corrected, held_out = [], []
    for decisions in wrong.values():
        misnamed = [(p, who) for p, who in decisions if who is not None]
        half = len(misnamed) // 2
        corrected += misnamed[:half]
        held_out += [p for p, _ in misnamed[half:]]
    negatives = NegativeIndex.build(
        NegativeSnapshot(
            (len(corrected), len(corrected)),
            tuple(who for _, who in corrected),
            np.stack([vectors[p] for p, _ in corrected]),
        )
    )
    right_before = sum(named(vectors[p], empty) == who for who, p in probes)
    right_after = sum(named(vectors[p], negatives) == who for who, p in probes)
    held_before = sum(named(vectors[p], empty) is not None for p in held_out)
    held_after = sum(named(vectors[p], negatives) is not None for p in held_out)
    same_after = sum(named(vectors[p], negatives) is not None for p, _ in corrected)
    return {
        "threshold": LOWERED,
        "enrolled_people": len(people),
        "stranger_photos": sum(len(d) for d in wrong.values()),
        "stranger_photos_misnamed": len(corrected) + len(held_out),
        "corrected": len(corrected),
        "corrected_still_misnamed": same_after,
        "other_photos": len(held_out),
        "other_photos_misnamed_before": held_before,
        "other_photos_misnamed_after": held_after,
        "probes": len(probes),
        "probes_right_before": right_before,
        "probes_right_after": right_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k -> 20k stored, fewer probes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    load_before = load_average()
    ident = {d.name for d in IDENT_ROOT.iterdir()}
    strangers = {
        d.name: sorted(d.glob("*.jpg"))
        for d in sorted(STRANGER_ROOT.iterdir())
        if d.is_dir() and d.name not in ident and len(list(d.glob("*.jpg"))) >= 4
    }
    ident_paths = [
        p for d in sorted(IDENT_ROOT.iterdir()) if d.is_dir() for p in sorted(d.glob("*.jpg"))
    ]
    started = time.perf_counter()
    vectors = embed_faces([p for paths in strangers.values() for p in paths] + ident_paths)
    log.info("embedded %d faces in %.0f s", len(vectors), time.perf_counter() - started)

    arrivals = [(name, p) for name, paths in strangers.items() for p in paths if p in vectors]
    random.Random(0).shuffle(arrivals)
    truth = [name for name, _ in arrivals]
    grouping = grouping_quality(truth, np.stack([vectors[p] for _, p in arrivals]))
    log.info("grouping quality done")
    corrections = correction_experiment(vectors, strangers)
    log.info("corrections: %s", corrections)
    sizes = (1_000, 20_000) if args.quick else (1_000, 100_000)
    with tempfile.TemporaryDirectory() as folder:
        cost = [arrival_cost(total, 50 if args.quick else 200, Path(folder)) for total in sizes]
    log.info("cost: %s", cost)
    table = markdown_table(
        ["similarity", "method", "B-cubed P", "R", "F1", "groups"],
        [
            [r["similarity"], r["method"], r["precision"], r["recall"], r["f1"], r["groups"]]
            for r in grouping
        ],
    )
    costs = markdown_table(
        [
            "stored",
            "per sighting, median ms",
            "p95 ms",
            "joined its group",
            "index load s",
            "re-grouping pass s (window)",
        ],
        [
            [
                f"{c['stored']:,}",
                c["median_ms"],
                c["p95_ms"],
                c["joined_their_group"],
                c["index_load_seconds"],
                f"{c['regroup_seconds']} ({c['regroup_window']:,})",
            ]
            for c in cost
        ],
    )
    c = corrections
    markdown = (
        f"{len(strangers)} held-out strangers, {len(arrivals)} faces, shuffled arrival "
        f"order:\n\n{table}\n\nCost (SQLite file, synthetic vectors):\n\n{costs}\n\n"
        f"Corrections at threshold {c['threshold']} (20 people enrolled x {ENROL}): "
        f"{c['stranger_photos_misnamed']} of {c['stranger_photos']} stranger photos misnamed; "
        f"{c['corrected']} corrected (named after all, by another enrolled person: "
        f"{c['corrected_still_misnamed']}); "
        f"their other photos misnamed {c['other_photos_misnamed_before']} -> "
        f"{c['other_photos_misnamed_after']} of {c['other_photos']}; enrolled people's probes "
        f"named right {c['probes_right_before']} -> {c['probes_right_after']} of {c['probes']}."
    )
    write_result(
        "unknown_people",
        {
            "precision": PRECISION,
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "strangers": len(strangers),
            "stranger_faces": len(arrivals),
            "group_similarity": GROUP_SIMILARITY,
            "min_match_quality": MIN_QUALITY,
            "grouping": grouping,
            "cost": cost,
            "corrections": corrections,
            "markdown": markdown,
        },
    )
    print(markdown)


if __name__ == "__main__":
    main()
