"""Nearest-neighbour latency and gallery refresh time vs gallery size (10k, 100k, 1M faces).

Synthetic unit embeddings (dim 128), 2.3 faces per person as in LFW, owners shuffled (so
the index has to group rows by person). On one BLAS thread, as in a gunicorn worker:

- search, nobody trained: the exact 5 most similar people over every enrolled face
  (`GalleryIndex.view(None).best_untrained`, what identify() runs before the first
  training): one float32 matrix-vector product over the view (the float16 rows widened
  once per gallery version) and a per-person maximum;
- search, after a training: the same over the people enrolled since (1,000 people here),
  the view built once per (gallery version, release version);
- full reload: what a worker does when it cannot follow the change log (its first load,
  or too far behind): `load_snapshot` from the database (SQLite here, MariaDB with
  --mariadb) and `GalleryIndex.build`;
- delta refresh: what a worker does when the gallery version moves after one enrolment
  of ENROLMENT faces (a new person, through `add_faces`): `load_delta` reads the logged
  change and those faces' embeddings, `GalleryIndex.apply` builds the next index, either
  by appending the new rows in the room after the matrix (the usual case) or, the first
  time after a full reload or when an enrolled person's block changes, by copying the
  matrix (once, with room again).

Run: .venv/bin/python -m benchmarks.gallery_benchmark [--quick] [--mariadb]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, insert
from threadpoolctl import threadpool_limits

from api.db.engine import create_db_engine, utcnow
from api.db.gallery import GallerySnapshot, encode_vector, load_delta, load_snapshot
from api.db.migrations import upgrade_schema
from api.db.people import NewFace, add_faces, create_person
from api.db.schema import face_embeddings, face_images, people
from api.recognition.classifier import LinearClassifier
from api.recognition.gallery import GalleryIndex
from api.recognition.release import Release
from benchmarks.common import (
    RESULTS,
    chart,
    fastest_run,
    fastest_seconds,
    markdown_table,
    write_result,
)
from tests.databases import mariadb_database

NAME = "gallery_search"
DIM = 128
FACES_PER_PERSON = 2.3
ENROLLED_SINCE = 1000  # people the release does not know yet
PROBES = 30
TOP_K = 5
INSERT_BATCH = 20_000
ENROLMENT = 5  # faces of the one enrolment the delta refresh follows
REPEATS = 3  # delta reads and applies are read-only: the fastest of a few runs


def synthetic_gallery(faces: int, seed: int = 0) -> GallerySnapshot:
    rng = np.random.default_rng(seed)
    persons = max(1, round(faces / FACES_PER_PERSON))
    vectors = rng.standard_normal((faces, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = rng.integers(0, persons, faces)
    return GallerySnapshot(
        version=1,
        face_ids=np.arange(1, faces + 1, dtype=np.int64),
        person_ids=tuple(f"p{owner:07d}" for owner in owners),
        vectors=vectors,
    )


def latencies_ms(search: Callable[[np.ndarray], object], probes: np.ndarray) -> tuple[float, float]:
    """(median, p95) milliseconds of `search(probe)` over the probes."""
    times = [fastest_seconds(1, search, probe) * 1000 for probe in probes]
    return float(np.median(times)), float(np.percentile(times, 95))


def release_without(index: GalleryIndex, newest: int) -> Release:
    """A release that knows everyone but the `newest` people (labels are all the view uses;
    tests/training/test_gallery.py `release_of` builds its releases the same way)."""
    labels = index.segments.people[: max(0, index.people_count - newest)]
    classifier = LinearClassifier(
        labels, np.zeros((len(labels), 1), np.float32), np.zeros(len(labels), np.float32), 1.0
    )
    return Release("bench", "facenet128", 0.55, "now", classifier, index.snapshot.size)


def search_row(snapshot: GallerySnapshot) -> dict:
    index = GalleryIndex.build(snapshot)
    probes = synthetic_gallery(PROBES, seed=1).vectors
    with threadpool_limits(1):
        everyone = index.view(None)
        full = latencies_ms(lambda p: everyone.best_untrained(p, TOP_K), probes)
        matvec = latencies_ms(lambda p: everyone.untrained @ p, probes)
        release = release_without(index, ENROLLED_SINCE)
        view, timing = fastest_run(1, index.view, release)
        since = latencies_ms(lambda p: view.best_untrained(p, TOP_K), probes)
    return {
        "faces": snapshot.size,
        "people": index.people_count,
        "matrix_mb": round(index.snapshot.vectors.nbytes / 2**20, 1),
        "matvec_ms_median": round(matvec[0], 3),
        "top5_all_ms_median": round(full[0], 3),
        "top5_all_ms_p95": round(full[1], 3),
        "view_build_ms": round(timing.wall_s * 1000, 1),
        "untrained_rows": len(view.untrained),
        "top5_untrained_ms_median": round(since[0], 3),
        "top5_untrained_ms_p95": round(since[1], 3),
    }


def fill(engine: Engine, snapshot: GallerySnapshot) -> None:
    """Store the synthetic gallery as enrolled faces (empty image bytes)."""
    now = utcnow()
    persons = sorted(set(snapshot.person_ids))
    with engine.begin() as conn:
        for start in range(0, len(persons), INSERT_BATCH):
            chunk = persons[start : start + INSERT_BATCH]
            conn.execute(
                insert(people), [{"person_id": p, "name": p, "created_at": now} for p in chunk]
            )
    for start in range(0, snapshot.size, INSERT_BATCH):
        rows = range(start, min(snapshot.size, start + INSERT_BATCH))
        with engine.begin() as conn:
            conn.execute(
                insert(face_images),
                [
                    {
                        "face_id": int(snapshot.face_ids[i]),
                        "person_id": snapshot.person_ids[i],
                        "image": b"",
                        "image_format": "jpeg",
                        "image_sha256": "0" * 64,
                        "width": 1,
                        "height": 1,
                        "box_left": 0,
                        "box_top": 0,
                        "box_right": 1,
                        "box_bottom": 1,
                        "detection_score": 1.0,
                        "created_at": now,
                    }
                    for i in rows
                ],
            )
            conn.execute(
                insert(face_embeddings),
                [
                    {
                        "face_id": int(snapshot.face_ids[i]),
                        "embedder": "facenet128",
                        "dim": DIM,
                        "vector": encode_vector(snapshot.vectors[i]),
                    }
                    for i in rows
                ],
            )


def enrol_newcomer(engine: Engine, name: str) -> None:
    """One enrolment as the API stores it: a new person with ENROLMENT faces."""
    vectors = synthetic_gallery(ENROLMENT, seed=2).vectors
    faces = [NewFace(b"", "jpeg", "0" * 64, 1, 1, (0, 0, 1, 1), 1.0, v) for v in vectors]
    with engine.begin() as conn:
        create_person(conn, name, name)
        add_faces(conn, name, "facenet128", faces)


def refresh_seconds(url: str, gallery: GallerySnapshot) -> dict[str, float]:
    """Seconds of a full reload (load, build) and of the delta refresh after one enrolment
    (delta_read; copy: the apply that copies the matrix, append: the one after it)."""
    engine = create_db_engine(url, timeout_seconds=30)
    try:
        upgrade_schema(engine)
        fill(engine, gallery)
        with engine.connect() as conn:
            snapshot, load = fastest_run(1, load_snapshot, conn, "facenet128", DIM)
        assert snapshot.size == gallery.size
        index, build = fastest_run(1, GalleryIndex.build, snapshot)
        enrol_newcomer(engine, "newcomer")
        with engine.connect() as conn:
            delta, read = fastest_run(REPEATS, load_delta, conn, index.version, "facenet128", DIM)
        assert delta is not None and delta.rows.size == ENROLMENT
        index, copy = fastest_run(REPEATS, index.apply, delta)  # a loaded index has no room
        enrol_newcomer(engine, "second")
        with engine.connect() as conn:
            delta = load_delta(conn, index.version, "facenet128", DIM)
        assert delta is not None
        index, append = fastest_run(1, index.apply, delta)  # once: a second append would copy
        assert index.snapshot.size == gallery.size + 2 * ENROLMENT
        return {
            "load": load.wall_s,
            "build": build.wall_s,
            "delta_read": read.wall_s,
            "copy": copy.wall_s,
            "append": append.wall_s,
        }
    finally:
        engine.dispose()


def refresh_row(gallery: GallerySnapshot, mariadb: bool) -> dict:
    row: dict = {"faces": gallery.size}
    with tempfile.TemporaryDirectory() as folder:
        sqlite = refresh_seconds(f"sqlite:///{Path(folder) / 'gallery.sqlite3'}", gallery)
    row.update(
        sqlite_load_s=round(sqlite["load"], 3),
        build_s=round(sqlite["build"], 3),
        sqlite_delta_read_s=round(sqlite["delta_read"], 4),
        delta_append_s=round(sqlite["append"], 4),
        delta_copy_s=round(sqlite["copy"], 4),
    )
    if mariadb:
        with mariadb_database("facerec_bench", skip_if_down=False) as url:
            maria = refresh_seconds(url, gallery)
        row.update(
            mariadb_load_s=round(maria["load"], 3),
            mariadb_delta_read_s=round(maria["delta_read"], 4),
        )
    return row


def plot(search: list[dict], refresh: list[dict]) -> None:
    with chart(RESULTS / f"{NAME}.png", 1, 2, figsize=(10, 4), dpi=120) as (left, right):
        sizes = [r["faces"] for r in search]
        left.plot(sizes, [r["top5_all_ms_median"] for r in search], "o-", label="top-5 people, all")
        left.plot(sizes, [r["matvec_ms_median"] for r in search], "^--", label="matrix-vector only")
        left.plot(
            sizes,
            [r["top5_untrained_ms_median"] for r in search],
            "s-",
            label=f"top-5 among {ENROLLED_SINCE} people enrolled since training",
        )
        left.set(xscale="log", yscale="log", xlabel="gallery faces", ylabel="ms per probe (1 core)")
        left.set_title("Nearest-neighbour latency")
        left.grid(True, which="both", alpha=0.3)
        left.legend(fontsize=8)
        sizes = [r["faces"] for r in refresh]
        maria = [r for r in refresh if "mariadb_load_s" in r]  # rows measured on MariaDB too
        maria_sizes = [r["faces"] for r in maria]
        right.plot(sizes, [r["sqlite_load_s"] for r in refresh], "o-", label="load (SQLite)")
        if maria:
            right.plot(
                maria_sizes, [r["mariadb_load_s"] for r in maria], "s-", label="load (MariaDB)"
            )
        right.plot(sizes, [r["build_s"] for r in refresh], "^--", label="index build")
        right.plot(
            sizes,
            [r["sqlite_delta_read_s"] for r in refresh],
            "o:",
            label=f"delta read, {ENROLMENT} faces enrolled (SQLite)",
        )
        if maria:
            right.plot(
                maria_sizes,
                [r["mariadb_delta_read_s"] for r in maria],
                "s:",
                label=f"delta read, {ENROLMENT} faces enrolled (MariaDB)",
            )
        right.plot(sizes, [r["delta_append_s"] for r in refresh], "^:", label="delta apply: append")
        right.plot(sizes, [r["delta_copy_s"] for r in refresh], "v:", label="delta apply: copy")
        right.set(xscale="log", yscale="log", xlabel="gallery faces", ylabel="seconds")
        right.set_title("Gallery refresh after a change")
        right.grid(True, which="both", alpha=0.3)
        right.legend(fontsize=8)


SEARCH_HEADERS = [
    "faces",
    "people",
    "matrix MB",
    "matvec ms",
    "top-5 all ms (p95)",
    f"top-5 of {ENROLLED_SINCE} new people ms (p95)",
    "view build ms",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k faces only")
    parser.add_argument("--mariadb", action="store_true", help="also refresh from MariaDB")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    search, refresh = [], []
    for size in sizes:
        gallery = synthetic_gallery(size)
        search.append(search_row(gallery))
        refresh.append(refresh_row(gallery, args.mariadb))
    write_result(
        NAME,
        {"dim": DIM, "top_k": TOP_K, "enrolment": ENROLMENT, "search": search, "refresh": refresh},
    )
    plot(search, refresh)
    print(
        markdown_table(
            SEARCH_HEADERS,
            [
                [
                    r["faces"],
                    r["people"],
                    r["matrix_mb"],
                    r["matvec_ms_median"],
                    f"{r['top5_all_ms_median']} ({r['top5_all_ms_p95']})",
                    f"{r['top5_untrained_ms_median']} ({r['top5_untrained_ms_p95']})",
                    r["view_build_ms"],
                ]
                for r in search
            ],
        )
    )
    print()
    print(
        markdown_table(
            [
                "faces",
                "load SQLite s",
                "load MariaDB s",
                "index build s",
                "delta read SQLite s",
                "delta read MariaDB s",
                "delta append s",
                "delta copy s",
            ],
            [
                [
                    r["faces"],
                    r["sqlite_load_s"],
                    r.get("mariadb_load_s", "not run"),
                    r["build_s"],
                    r["sqlite_delta_read_s"],
                    r.get("mariadb_delta_read_s", "not run"),
                    r["delta_append_s"],
                    r["delta_copy_s"],
                ]
                for r in refresh
            ],
        )
    )


if __name__ == "__main__":
    main()
