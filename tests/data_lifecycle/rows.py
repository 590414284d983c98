"""Sample rows for the data lifecycle tests, and all rows of tables to compare them."""

from __future__ import annotations

import hashlib

import numpy as np
from sqlalchemy import Engine, MetaData, insert, select

from api.db.engine import utcnow
from tests.shared_data import ident20_people


def fill_sample(engine: Engine) -> None:
    """People, real face images with embeddings, events and a key: the columns of v1, so
    it fills a v1 database and one at any later revision alike."""
    tables = MetaData()
    tables.reflect(engine)
    people = ident20_people()
    now = utcnow()
    rng = np.random.default_rng(7)
    with engine.begin() as conn:
        face_id = 0
        for person_id, images in list(people.items())[:3]:
            conn.execute(
                insert(tables.tables["people"]),
                {"person_id": person_id, "name": person_id.title(), "created_at": now},
            )
            for image in images[:2]:
                face_id += 1
                data = image.read_bytes()
                conn.execute(
                    insert(tables.tables["face_images"]),
                    {
                        "face_id": face_id,
                        "person_id": person_id,
                        "image": data,
                        "image_format": "jpeg",
                        "image_sha256": hashlib.sha256(data).hexdigest(),
                        "width": 250,
                        "height": 250,
                        "box_left": 70.5,
                        "box_top": 60.25,
                        "box_right": 180.0,
                        "box_bottom": 190.0,
                        "detection_score": 0.999,
                        "created_at": now,
                    },
                )
                vector = rng.standard_normal(128).astype(np.float32)
                conn.execute(
                    insert(tables.tables["face_embeddings"]),
                    {
                        "face_id": face_id,
                        "embedder": "facenet128",
                        "dim": 128,
                        "vector": (vector / np.linalg.norm(vector)).tobytes(),
                    },
                )
        for index in range(5):
            conn.execute(
                insert(tables.tables["recognition_events"]),
                {
                    "captured_at": now,
                    "received_at": now,
                    "camera_id": f"cam-{index % 2}",
                    "location": "door",
                    "person_id": None if index == 4 else "aaron_peirsol",
                    "confidence": 0.9,
                    "similarity": 0.8,
                    "box_left": 1,
                    "box_top": 2,
                    "box_right": 30,
                    "box_bottom": 40,
                    "model_version": "20261201-000000",
                },
            )
        conn.execute(
            insert(tables.tables["api_keys"]),
            {
                "key_id": "k1",
                "name": "edge",
                "scope": "recognize",
                "camera_id": "cam-0",
                "secret_sha256": "0" * 64,
                "created_at": now,
            },
        )


def all_rows(engine: Engine, names: list[str]) -> dict[str, list[tuple[object, ...]]]:
    tables = MetaData()
    tables.reflect(engine, only=names)
    with engine.connect() as conn:
        return {
            name: sorted(
                (tuple(row) for row in conn.execute(select(tables.tables[name]))), key=repr
            )
            for name in names
        }
