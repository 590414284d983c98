"""Backup and retention at scale: export/import of 10,000 and 100,000 faces, and the
purge of 1,000,000 expired events on MariaDB.

- export / import: `python -m api.data export` of a SQLite database, then `import` into a
  new SQLite database and a new MariaDB database, each command a child process whose wall
  time and peak resident memory (its own, from wait4) are recorded. The faces are
  synthetic rows around real bytes: 50 different LFW face crops (160x160 JPEG) used in
  turn, so the archive compresses as real images do (deflate never sees a repeat within
  its window); one random unit 128-d embedding per face; one event per face.
- purge: 1,000,000 events captured 40 days ago, deleted by `purge_expired` in batches of
  PURGE_BATCH_SIZE (the default, 1000) while another connection inserts a new event every
  20 ms, as recognitions do. Reported: rows/s, the longest single DELETE (the longest any
  row lock of the purge is held), and the concurrent inserts' worst latency: what a
  recognition waits behind the purge.

Run: .venv/bin/python -m benchmarks.data_lifecycle [--quick] [--faces N ...] [--events N]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import Engine, event, insert, text

from api.config import Settings
from api.db.engine import create_db_engine, utcnow
from api.db.migrations import upgrade_schema
from api.db.schema import face_embeddings, face_images, people, recognition_events
from api.retention.purge import RetentionLimits, purge_expired
from benchmarks.common import RESULTS, chart, markdown_table, write_result
from tests.databases import mariadb_database
from tests.shared_data import ident20_people

NAME = "data_lifecycle"
DIM = 128
FACES_PER_PERSON = 2.3
CROPS = 50
FILL_BATCH = 2000
INSERT_EVERY_S = 0.02
PURGE_HEADERS = [
    "events",
    "batch",
    "rows/s",
    "longest DELETE ms",
    "inserts meanwhile",
    "insert p50 / p99 / max ms",
]


def face_crops() -> list[bytes]:
    """CROPS different real face crops: the centre 160x160 of LFW images, JPEG q=90."""
    images = [path for paths in ident20_people().values() for path in paths][:CROPS]
    crops = []
    for path in images:
        with Image.open(path) as image:
            box = (45, 45, 205, 205)
            buffer = io.BytesIO()
            image.convert("RGB").crop(box).save(buffer, "JPEG", quality=90)
            crops.append(buffer.getvalue())
    return crops


def fill_faces(engine: Engine, faces: int, crops: list[bytes]) -> None:
    rng = np.random.default_rng(0)
    now = utcnow()
    persons = max(1, round(faces / FACES_PER_PERSON))
    hashes = [hashlib.sha256(crop).hexdigest() for crop in crops]
    with engine.begin() as conn:
        for start in range(0, persons, FILL_BATCH):
            conn.execute(
                insert(people),
                [
                    {"person_id": f"p{i:07d}", "name": f"Person {i}", "created_at": now}
                    for i in range(start, min(persons, start + FILL_BATCH))
                ],
            )
        for start in range(1, faces + 1, FILL_BATCH):
            ids = range(start, min(faces + 1, start + FILL_BATCH))
            vectors = rng.standard_normal((len(ids), DIM)).astype("<f4")
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            conn.execute(
                insert(face_images),
                [
                    {
                        "face_id": i,
                        "person_id": f"p{i % persons:07d}",
                        "image": crops[i % len(crops)],
                        "image_format": "JPEG",
                        "image_sha256": hashes[i % len(crops)],
                        "width": 160,
                        "height": 160,
                        "box_left": 20.0,
                        "box_top": 20.0,
                        "box_right": 140.0,
                        "box_bottom": 140.0,
                        "detection_score": 0.99,
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(face_embeddings),
                [
                    {"face_id": i, "embedder": "facenet128", "dim": DIM, "vector": v.tobytes()}
                    for i, v in zip(ids, vectors, strict=True)
                ],
            )
            conn.execute(insert(recognition_events), [_event(now, i % 3 != 0) for i in ids])


def _event(captured_at: Any, known: bool) -> dict[str, Any]:
    return {
        "captured_at": captured_at,
        "received_at": captured_at,
        "camera_id": "door-1",
        "location": "entrance",
        "person_id": "p0000001" if known else None,
        "confidence": 0.9 if known else None,
        "similarity": 0.8,
        "box_left": 10,
        "box_top": 10,
        "box_right": 90,
        "box_bottom": 90,
        "model_version": "20261202-000000",
    }


def data_command(url: str, *args: str) -> dict[str, float]:
    """Run `python -m api.data ARGS` against `url`: its wall seconds and peak RSS (MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.data", *args],
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"api.data {args[0]} failed: {process.stderr.read().decode()}")
    process.returncode = 0
    process.stderr.close()
    return {"s": round(wall, 2), "peak_mib": round(usage.ru_maxrss / 1024, 1)}


def transfer_row(faces: int, crops: list[bytes], mariadb: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        source_url = f"sqlite:///{Path(folder) / 'source.sqlite3'}"
        engine = create_db_engine(source_url)
        upgrade_schema(engine)
        fill_faces(engine, faces, crops)
        engine.dispose()
        archive = Path(folder) / "backup.zip"
        exported = data_command(source_url, "export", "--out", str(archive))
        row = {
            "faces": faces,
            "events": faces,
            "archive_mib": round(archive.stat().st_size / 2**20, 1),
            "database_mib": round((Path(folder) / "source.sqlite3").stat().st_size / 2**20, 1),
            "export_s": exported["s"],
            "export_peak_mib": exported["peak_mib"],
        }
        imported = data_command(
            f"sqlite:///{Path(folder) / 'target.sqlite3'}", "import", str(archive)
        )
        row.update(sqlite_import_s=imported["s"], sqlite_import_peak_mib=imported["peak_mib"])
        if mariadb:
            with mariadb_database("facerec_bench", skip_if_down=False) as url:
                imported = data_command(url, "import", str(archive))
            row.update(mariadb_import_s=imported["s"], mariadb_import_peak_mib=imported["peak_mib"])
    return row


def fill_events_mariadb(engine: Engine, count: int) -> None:
    """`count` events captured 40 days ago, a third of them unknown faces, in one
    server-side INSERT ... SELECT over MariaDB's sequence engine."""
    captured = (utcnow() - timedelta(days=40)).isoformat(sep=" ")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO recognition_events (captured_at, received_at, camera_id, location,"
                " person_id, confidence, similarity, box_left, box_top, box_right, box_bottom,"
                " model_version) SELECT :captured, :captured, 'door-1', 'entrance',"
                " IF(seq % 3 = 0, NULL, 'p0000001'), 0.9, 0.8, 10, 10, 90, 90,"
                f" '20261202-000000' FROM mysql.seq_1_to_{int(count)}"
            ),
            {"captured": captured},
        )


def purge_row(events: int, batch_size: int) -> dict[str, Any]:
    with mariadb_database("facerec_bench", skip_if_down=False) as url:
        engine = create_db_engine(url)
        upgrade_schema(engine)
        fill_events_mariadb(engine, events)
        deletes: list[float] = []

        def before(conn, cursor, statement, *_: object) -> None:
            conn.info["started"] = time.perf_counter()

        def after(conn, cursor, statement, *_: object) -> None:
            if statement.startswith("DELETE FROM recognition_events"):
                deletes.append(time.perf_counter() - conn.info["started"])

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        inserts: list[float] = []
        done = threading.Event()
        writer = threading.Thread(target=_insert_steadily, args=(url, inserts, done))
        writer.start()
        started = time.perf_counter()
        result = purge_expired(engine, RetentionLimits(30, 7), utcnow(), batch_size=batch_size)
        seconds = time.perf_counter() - started
        done.set()
        writer.join()
        engine.dispose()
    return {
        "events": events,
        "batch_size": batch_size,
        "deleted": result.total,
        "batches": result.batches,
        "purge_s": round(seconds, 1),
        "rows_per_s": round(result.total / seconds),
        "longest_delete_ms": round(max(deletes) * 1000, 1),
        "median_delete_ms": round(float(np.median(deletes)) * 1000, 1),
        "concurrent_inserts": len(inserts),
        "insert_p50_ms": round(float(np.median(inserts)) * 1000, 1),
        "insert_p99_ms": round(float(np.percentile(inserts, 99)) * 1000, 1),
        "insert_max_ms": round(max(inserts) * 1000, 1),
        "delete_ms": [round(d * 1000, 2) for d in deletes],
    }


def _insert_steadily(url: str, latencies: list[float], done: threading.Event) -> None:
    """A recognition's event insert every INSERT_EVERY_S, on its own connection."""
    engine = create_db_engine(url)
    while not done.wait(INSERT_EVERY_S):
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(insert(recognition_events).values(_event(utcnow(), True)))
        latencies.append(time.perf_counter() - started)
    engine.dispose()


def plot(transfers: list[dict[str, Any]], purge: dict[str, Any] | None) -> None:
    with chart(RESULTS / f"{NAME}.png", 1, 2, figsize=(11, 4), dpi=120) as (left, right):
        sizes = [row["faces"] for row in transfers]
        left.plot(sizes, [row["export_s"] for row in transfers], "o-", label="export (SQLite)")
        left.plot(sizes, [row["sqlite_import_s"] for row in transfers], "s-", label="import SQLite")
        if all("mariadb_import_s" in row for row in transfers):
            left.plot(
                sizes, [row["mariadb_import_s"] for row in transfers], "^-", label="import MariaDB"
            )
        left.set(xscale="log", yscale="log", xlabel="faces (and events)", ylabel="seconds")
        left.set_title("Export / import time")
        left.legend()
        if purge:
            right.plot(range(1, len(purge["delete_ms"]) + 1), purge["delete_ms"], ",", alpha=0.6)
            right.set(xlabel="batch", ylabel="DELETE ms", yscale="log")
            right.set_title(
                f"Purge of {purge['events']:,} events, MariaDB: {purge['rows_per_s']:,} rows/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--events", type=int, default=1_000_000, help="0: no purge run")
    parser.add_argument("--no-mariadb-import", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2,000 faces, 100,000 events")
    args = parser.parse_args()
    if args.quick:
        args.faces, args.events = [2000], 100_000
    load_before = [round(value, 2) for value in os.getloadavg()]
    crops = face_crops()
    transfers = [transfer_row(n, crops, not args.no_mariadb_import) for n in args.faces]
    for row in transfers:
        print(row, flush=True)
    purge = purge_row(args.events, Settings().purge_batch_size) if args.events else None
    if purge:
        print({k: v for k, v in purge.items() if k != "delete_ms"}, flush=True)
    plot(transfers, purge)
    headers = ["faces", "archive MiB", "export s", "export peak MiB", "import SQLite s"]
    headers += ["import SQLite peak MiB", "import MariaDB s", "import MariaDB peak MiB"]
    table = markdown_table(
        headers,
        [
            [
                f"{r['faces']:,}",
                r["archive_mib"],
                r["export_s"],
                r["export_peak_mib"],
                r["sqlite_import_s"],
                r["sqlite_import_peak_mib"],
                r.get("mariadb_import_s", "-"),
                r.get("mariadb_import_peak_mib", "-"),
            ]
            for r in transfers
        ],
    )
    if purge:
        table += "\n\n" + markdown_table(
            PURGE_HEADERS,
            [
                [
                    f"{purge['events']:,}",
                    purge["batch_size"],
                    f"{purge['rows_per_s']:,}",
                    purge["longest_delete_ms"],
                    purge["concurrent_inserts"],
                    f"{purge['insert_p50_ms']} / {purge['insert_p99_ms']} / "
                    f"{purge['insert_max_ms']}",
                ]
            ],
        )
    write_result(
        NAME,
        {
            "transfers": transfers,
            "purge": purge,
            "load_average_before": load_before,
            "note": "synthetic rows around 50 real LFW face crops (160x160 JPEG); measured "
            "on a machine shared with other jobs (see the load average): times are upper "
            "bounds, peak memory is not affected",
            "markdown": table,
        },
    )


if __name__ == "__main__":
    main()
