"""Sightings: bytes each one stores, and search-by-face latency as history grows.

Storage: real faces (../shared lfw-ident20) through the API's steps (MTCNN, align_face,
FaceNet, face_jpeg), stored with `record_sightings` into a fresh SQLite file; the file's
growth per sighting (event row, face JPEG, embedding, indexes) and the JPEG alone are
reported, and the growth per day at one sighting a second.

Search: the API's own SightingIndex (api/sightings/search.py) holding N sightings
(10k/100k/1M; unit vectors, one probe with a few true neighbours planted), answering the
route's query: every sighting at or above the threshold, best first, with and without a
camera filter. Median and 95th percentile over the repeats, BLAS limited to 2 threads (the
2 cores the target states), and the index's memory, which is what each worker holds.
Where faiss is importable, its exact IndexFlatIP range search over the same vectors is
timed too, as the alternative the choice was measured against.

Run: .venv/bin/python -m benchmarks.sighting_search [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # before numpy loads BLAS
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np

from api.db.engine import create_db_engine, utcnow
from api.db.events import NewEvent
from api.db.migrations import upgrade_schema
from api.db.sightings import NewSightingFace, StoredVectors
from api.recognition.faces import FaceAnalyzer
from api.sightings.record import face_jpeg, record_sightings
from api.sightings.search import SearchFilter, SightingIndex, micros
from api.vision import MtcnnDetector, load_embedder
from benchmarks.common import (
    PRECISION,
    RESULTS,
    SHARED,
    chart,
    load_average,
    markdown_table,
    write_result,
)
from benchmarks.lfw import read_rgb
from models.runtime import ModelStore

log = logging.getLogger("benchmarks.sighting_search")

EMBEDDER = "facenet128"
THRESHOLD = 0.55
CAMERAS = 20
SECONDS_PER_DAY = 86_400


def storage(sightings: int) -> dict[str, Any]:
    """Bytes a stored sighting costs in a SQLite file, measured on real faces."""
    store = ModelStore()
    analyzer = FaceAnalyzer(
        MtcnnDetector(store), load_embedder(EMBEDDER, store, precision=PRECISION)
    )
    paths = sorted((SHARED / "data" / "lfw-ident20").glob("*/*.jpg"))[:sightings]
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "sightings.sqlite3"
        engine = create_db_engine(f"sqlite:///{database}")
        upgrade_schema(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        before = database.stat().st_size
        jpeg_sizes = []
        for index, path in enumerate(paths):
            found = analyzer.analyze(read_rgb(path))[:1]
            if not found:
                continue
            face = found[0]
            jpeg = face_jpeg(face.crop)
            jpeg_sizes.append(len(jpeg))
            event = NewEvent(
                captured_at=utcnow(),
                camera_id=f"camera-{index % CAMERAS}",
                location="Entrance hall",
                person_id=None,
                confidence=0.5,
                similarity=0.4,
                box=tuple(round(v) for v in face.face.box),
                model_version="20261202T000000Z",
                quality=face.quality.score,
            )
            with engine.begin() as conn:
                record_sightings(conn, [event], [NewSightingFace(jpeg, EMBEDDER, face.embedding)])
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        grown = database.stat().st_size - before
        engine.dispose()
    per_sighting = grown / len(jpeg_sizes)
    return {
        "sightings": len(jpeg_sizes),
        "face_jpeg_bytes_mean": round(float(np.mean(jpeg_sizes))),
        "face_jpeg_bytes_p95": round(float(np.percentile(jpeg_sizes, 95))),
        "embedding_bytes": 4 * 128,
        "database_bytes_per_sighting": round(per_sighting),
        "gib_per_day_at_1_per_second": round(per_sighting * SECONDS_PER_DAY / 2**30, 3),
    }


def filled_index(size: int, dim: int, rng: np.random.Generator) -> tuple[SightingIndex, Any]:
    """An index of `size` random unit vectors, 8 near-copies of a probe among them."""
    vectors = rng.standard_normal((size, dim), dtype=np.float32)
    probe = vectors[0] / np.linalg.norm(vectors[0])
    planted = rng.choice(size, 8, replace=False)
    vectors[planted] = probe + 0.02 * rng.standard_normal((8, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = SightingIndex(EMBEDDER, dim)
    codes = np.array([index.camera_code(f"camera-{i}") for i in range(CAMERAS)], dtype=np.int32)
    start = micros(datetime(2026, 1, 1))
    step = 200_000
    for offset in range(0, size, step):
        chunk = vectors[offset : offset + step]
        ids = np.arange(offset + 1, offset + 1 + len(chunk), dtype=np.int64)
        # One sighting a second from 2026 on, cameras in turn; the refresh's own append.
        index._columns.append(
            StoredVectors(ids, [], [], chunk), start + ids * 1_000_000, codes[ids % CAMERAS]
        )
    del vectors
    return index, probe


def timed(run: Any, repeats: int) -> dict[str, float]:
    run()  # warm
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return {
        "median_ms": round(float(np.median(seconds)) * 1000, 1),
        "p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
    }


def faiss_flat(index: SightingIndex, probe: np.ndarray, repeats: int) -> dict[str, float] | None:
    try:
        import faiss  # optional: the alternative measured, not a dependency
    except ImportError:
        return None
    faiss.omp_set_num_threads(2)
    columns = index._columns
    flat = faiss.IndexFlatIP(index.dim)
    flat.add(columns.vectors[: columns.count])
    return timed(partial(flat.range_search, probe[None, :], THRESHOLD), repeats)


def search_curve(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(13)
    rows = []
    for size in sizes:
        index, probe = filled_index(size, 128, rng)
        found, _ = index.search(probe, THRESHOLD, SearchFilter())
        row = {
            "sightings": size,
            "found": len(found),
            "memory_mib": round(index.memory_bytes / 2**20, 1),
            "search": timed(partial(index.search, probe, THRESHOLD, SearchFilter()), repeats),
            "search_one_camera": timed(
                partial(index.search, probe, THRESHOLD, SearchFilter(camera_id="camera-3")),
                repeats,
            ),
            "faiss_flat": faiss_flat(index, probe, repeats),
        }
        log.info("%s", row)
        rows.append(row)
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    sizes = [row["sightings"] for row in rows]
    with chart(path, figsize=(7, 4), dpi=110) as axes:
        axes.plot(sizes, [r["search"]["median_ms"] for r in rows], "o-", label="median")
        axes.plot(sizes, [r["search"]["p95_ms"] for r in rows], "s--", label="95th percentile")
        if all(r["faiss_flat"] for r in rows):
            axes.plot(sizes, [r["faiss_flat"]["median_ms"] for r in rows], "^:", label="faiss flat")
        axes.axhline(100, color="grey", lw=0.8)
        axes.set_xscale("log")
        axes.set_xlabel("stored sightings")
        axes.set_ylabel("search, ms (2 threads)")
        axes.legend()
        axes.grid(alpha=0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--storage-sightings", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="10k and 100k, 50 sightings")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats, args.storage_sightings = [10_000, 100_000], 5, 50
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    load_before = load_average()
    stored = storage(args.storage_sightings)
    log.info("storage %s", stored)
    rows = search_curve(args.sizes, args.repeats)
    plot(rows, RESULTS / "sighting_search.png")
    log.info(
        markdown_table(
            ["sightings", "median ms", "p95 ms", "one camera ms", "faiss ms", "MiB"],
            [
                [
                    r["sightings"],
                    r["search"]["median_ms"],
                    r["search"]["p95_ms"],
                    r["search_one_camera"]["median_ms"],
                    r["faiss_flat"]["median_ms"] if r["faiss_flat"] else "",
                    r["memory_mib"],
                ]
                for r in rows
            ],
        )
    )
    write_result(
        "sighting_search",
        {
            "embedder": EMBEDDER,
            "threshold": THRESHOLD,
            "blas_threads": 2,
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "storage": stored,
            "search": rows,
        },
    )


if __name__ == "__main__":
    main()
