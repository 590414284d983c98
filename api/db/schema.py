"""Table definitions: the single source of truth for both SQLite and MariaDB.

Run `python -m api.db.schema` to print the MariaDB DDL (db-gen/face_recognition_db.sql).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.schema import CreateIndex, CreateTable

metadata = MetaData()

# MariaDB's plain DATETIME drops microseconds and its BLOB stops at 64 KiB: name the
# variants so an event's order and a full-resolution face image survive.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ImageBytes = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
EventId = BigInteger().with_variant(Integer(), "sqlite")
_TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

people = Table(
    "people",
    metadata,
    Column("person_id", String(128), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    **_TABLE_OPTIONS,
)

face_images = Table(
    "face_images",
    metadata,
    Column("face_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "person_id",
        String(128),
        ForeignKey("people.person_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("image", ImageBytes, nullable=False),
    Column("image_format", String(8), nullable=False),
    Column("image_sha256", String(64), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("box_left", Float, nullable=False),
    Column("box_top", Float, nullable=False),
    Column("box_right", Float, nullable=False),
    Column("box_bottom", Float, nullable=False),
    Column("detection_score", Float, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    **_TABLE_OPTIONS,
)

# One row per face and embedder, so switching EMBEDDER and re-embedding ("full" training)
# never destroys the vectors of the other model.
face_embeddings = Table(
    "face_embeddings",
    metadata,
    Column(
        "face_id",
        Integer,
        ForeignKey("face_images.face_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("embedder", String(32), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    **_TABLE_OPTIONS,
)

# No foreign key to people: a sighting is history. Whether it outlives the deletion of
# the person is the operator's choice (DELETE_EVENTS_WITH_PERSON), applied by the API.
recognition_events = Table(
    "recognition_events",
    metadata,
    Column("event_id", EventId, primary_key=True, autoincrement=True),
    Column("captured_at", Timestamp, nullable=False),
    Column("received_at", Timestamp, nullable=False),
    Column("camera_id", String(128), nullable=False),
    Column("location", String(255), nullable=True),
    Column("person_id", String(128), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("similarity", Float, nullable=True),
    Column("box_left", Integer, nullable=False),
    Column("box_top", Integer, nullable=False),
    Column("box_right", Integer, nullable=False),
    Column("box_bottom", Integer, nullable=False),
    Column("model_version", String(64), nullable=True),
    # Face quality in [0, 1] (api/sightings/quality.py); NULL for events stored before it.
    Column("quality", Float, nullable=True),
    # Filled by the grouping of unknown faces and by operators' corrections (v1.1).
    Column("unknown_id", String(64), nullable=True),
    Column("corrected", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_events_person_time", "person_id", "captured_at"),
    Index("ix_events_camera_time", "camera_id", "captured_at"),
    Index("ix_events_time", "captured_at"),
    Index("ix_events_unknown", "unknown_id", "captured_at"),
    **_TABLE_OPTIONS,
)

# The face of a sighting: the aligned crop the embedder saw (a small JPEG) and its
# embedding, apart from the event row so that listing events never reads image bytes.
# Deleting an event (retention purge, deletion of a person) deletes its face with it.
sighting_faces = Table(
    "sighting_faces",
    metadata,
    Column(
        "event_id",
        EventId,
        ForeignKey("recognition_events.event_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("image", LargeBinary, nullable=False),  # JPEG, a few KiB
    Column("embedder", String(32), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32 unit vector
    **_TABLE_OPTIONS,
)

# Operators' corrections of sightings (v1.1): who said what, when. `key_id` is the API
# key's id (None where auth is off). Deleted with the event.
event_corrections = Table(
    "event_corrections",
    metadata,
    Column("correction_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "event_id",
        EventId,
        ForeignKey("recognition_events.event_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("previous_person_id", String(128), nullable=True),
    Column("person_id", String(128), nullable=True),  # NULL: "not who you said"
    Column("key_id", String(64), nullable=True),
    Column("created_at", Timestamp, nullable=False),
    **_TABLE_OPTIONS,
)

# Faces an operator said are NOT this person ("wrong person"): the matcher never names a
# face that person when it is closer to one of these than to their own enrolled faces.
# The embedding is copied here, and `event_id` is only where it came from (no foreign
# key): the lesson outlives the sighting's retention; it goes with the person.
negative_faces = Table(
    "negative_faces",
    metadata,
    Column("negative_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "person_id",
        String(128),
        ForeignKey("people.person_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("event_id", EventId, nullable=True),
    Column("embedder", String(32), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32 unit vector
    Column("created_at", Timestamp, nullable=False),
    **_TABLE_OPTIONS,
)

# Unknown groups an operator dismissed ("not worth naming"): left out of /unknowns.
unknown_dismissals = Table(
    "unknown_dismissals",
    metadata,
    Column("unknown_id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=True),
    Column("dismissed_at", Timestamp, nullable=False),
    **_TABLE_OPTIONS,
)

# Per-camera settings; a camera without a row uses the global ones.
cameras = Table(
    "cameras",
    metadata,
    Column("camera_id", String(128), primary_key=True),
    Column("location", String(255), nullable=True),
    Column("threshold", Float, nullable=True),  # NULL: the global naming threshold
    Column("updated_at", Timestamp, nullable=False),
    **_TABLE_OPTIONS,
)

training_jobs = Table(
    "training_jobs",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", Timestamp, nullable=False),
    Column("started_at", Timestamp, nullable=True),
    Column("finished_at", Timestamp, nullable=True),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_expires_at", Timestamp, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=True),
    Column("release_version", String(64), nullable=True),
    Column("people_count", Integer, nullable=True),
    Column("faces_count", Integer, nullable=True),
    # 1 while the job runs, NULL otherwise. Unique (and NULLs never collide), so the
    # database itself refuses a second running job, whatever the pods believe.
    Column("running_slot", Integer, nullable=True),
    UniqueConstraint("running_slot", name="uq_training_jobs_running_slot"),
    **_TABLE_OPTIONS,
)

# A single counter bumped in the same transaction as every change to the gallery
# (enrolment, deletion): workers compare one integer per request instead of rescanning.
gallery_state = Table(
    "gallery_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    **_TABLE_OPTIONS,
)

# The faces each gallery version touched, written in the bump's transaction: a worker at
# version v applies the rows of (v, w] instead of reloading every embedding. Every bump
# writes at least one row, so a version without rows means the log does not cover it
# (pruned, or bumped by an older release of the service) and the worker reloads in full.
# No foreign key: a removal outlives its face.
gallery_changes = Table(
    "gallery_changes",
    metadata,
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("face_id", Integer, primary_key=True, autoincrement=False),
    Column("person_id", String(128), nullable=False),
    Column("kind", String(8), nullable=False),  # "added" (or re-embedded) / "removed"
    **_TABLE_OPTIONS,
)


# API keys: only a SHA-256 of each secret is stored (the secrets are 256-bit random
# tokens, so a slow password hash would add nothing); `key_id` is the public part of the
# token, used to find the row before the constant-time comparison.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("camera_id", String(128), nullable=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp, nullable=True),
    **_TABLE_OPTIONS,
)


# Cluster-wide leases of periodic jobs (the retention purge; later the unknown-face
# regrouping and alert delivery): one row per job, held by one process until it expires.
# `api.db.leases` fences every write by owner, so a holder that stalled past its expiry
# cannot renew what another process has taken over.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("expires_at", Timestamp, nullable=False),
    **_TABLE_OPTIONS,
)


# Alerts (api/alerts). A destination's secret (webhook HMAC key, MQTT password) is stored
# only as Fernet ciphertext under ALERT_SECRETS_KEY. `lease_owner`/`lease_expires_at` are
# the dispatcher's claim on the destination: one sender at a time, so its alerts leave in
# order; a dead sender's lease expires and another worker resumes.
alert_destinations = Table(
    "alert_destinations",
    metadata,
    Column("destination_id", String(32), primary_key=True),
    Column("name", String(128), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("topic", String(512), nullable=True),
    Column("last_seen_topic", String(512), nullable=True),
    Column("username", String(255), nullable=True),
    Column("secret_ciphertext", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_expires_at", Timestamp, nullable=True),
    **_TABLE_OPTIONS,
)

# Lists (person_ids, camera_ids, days) are JSON text: NULL means "any".
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("rule_id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column(
        "destination_id",
        String(32),
        ForeignKey("alert_destinations.destination_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("person_ids", Text, nullable=True),
    Column("unknown", Boolean, nullable=False),
    Column("camera_ids", Text, nullable=True),
    Column("days", String(32), nullable=True),
    Column("start_time", String(5), nullable=True),
    Column("end_time", String(5), nullable=True),
    Column("timezone", String(64), nullable=False),
    Column("min_confidence", Float, nullable=True),
    Column("min_quality", Float, nullable=True),
    Column("cooldown_seconds", Integer, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    **_TABLE_OPTIONS,
)

# When a rule last fired for a subject (a person_id, or "unknown:<group>") at a camera.
# Written in the sighting's transaction with a conditional UPDATE, so two workers seeing
# the same person at once fire one alert.
alert_cooldowns = Table(
    "alert_cooldowns",
    metadata,
    Column(
        "rule_id",
        String(32),
        ForeignKey("alert_rules.rule_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("subject", String(160), primary_key=True),
    Column("camera_id", String(128), primary_key=True),
    Column("last_fired_at", Timestamp, nullable=False),
    **_TABLE_OPTIONS,
)

# The outbox: one row per alert and destination, inserted in the transaction that stores
# the sighting (so an alert exists exactly when its sighting does) and removed with it by
# the retention purge. `payload` is the JSON body, fixed at insert so every retry sends
# the same bytes under the same `alert_id`. No foreign key to the rule: a delivery's
# history outlives the rule that caused it.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("delivery_id", EventId, primary_key=True, autoincrement=True),
    Column("alert_id", String(32), nullable=False, unique=True),
    Column("rule_id", String(32), nullable=False),
    Column(
        "destination_id",
        String(32),
        ForeignKey("alert_destinations.destination_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "event_id",
        EventId,
        ForeignKey("recognition_events.event_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("camera_id", String(128), nullable=False),
    Column("person_id", String(128), nullable=True),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Timestamp, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("delivered_at", Timestamp, nullable=True),
    Index("ix_alert_deliveries_queue", "destination_id", "status", "delivery_id"),
    Index("ix_alert_deliveries_status", "status", "delivery_id"),
    **_TABLE_OPTIONS,
)


def mariadb_ddl() -> str:
    """The MariaDB DDL of `metadata`, as committed in db-gen/face_recognition_db.sql.

    It also records the Alembic revision it equals, so a database loaded from the file
    (the MariaDB image does that) is upgraded from there, never re-created, by the
    service; and it seeds the rows the migrations seed.
    """
    from api.db.migrations import head_revision  # here: migrations' env imports this module

    dialect = mysql.dialect()
    dialect.is_mariadb = True
    statements = []
    for table in metadata.sorted_tables:
        statements.append(str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)))
        for index in sorted(table.indexes, key=lambda idx: idx.name or ""):
            statements.append(str(CreateIndex(index, if_not_exists=True).compile(dialect=dialect)))
    statements += [
        "CREATE TABLE IF NOT EXISTS alembic_version (\n"
        "\tversion_num VARCHAR(32) NOT NULL,\n"
        "\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)",
        f"INSERT IGNORE INTO alembic_version (version_num) VALUES ('{head_revision()}')",  # noqa: S608 (our own revision id)
        "INSERT IGNORE INTO gallery_state (id, version) VALUES (1, 0)",
    ]
    header = (
        "-- Generated by `python -m api.db.schema` from api/db/schema.py: do not edit.\n"
        "-- A test fails when this file and the migrations (api/db/migrations) disagree.\n"
    )
    body = ";\n".join(statement.strip() for statement in statements) + ";\n"
    return header + "\n".join(line.rstrip() for line in body.splitlines()) + "\n"


if __name__ == "__main__":
    print(mariadb_ddl(), end="")
