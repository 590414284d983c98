"""Baseline: the schema of v1, exactly as `create_all` made it before migrations existed.

A database made by v1 has these tables and no `alembic_version`: `upgrade_schema` stamps it with
this revision instead of running it. Types are spelled out here, not imported from
`api.db.schema`, so later changes to that module never rewrite history.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
IMAGE_BYTES = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("person_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "face_images",
        sa.Column("face_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "person_id",
            sa.String(128),
            sa.ForeignKey("people.person_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("image", IMAGE_BYTES, nullable=False),
        sa.Column("image_format", sa.String(8), nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("box_left", sa.Float(), nullable=False),
        sa.Column("box_top", sa.Float(), nullable=False),
        sa.Column("box_right", sa.Float(), nullable=False),
        sa.Column("box_bottom", sa.Float(), nullable=False),
        sa.Column("detection_score", sa.Float(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_face_images_person_id", "face_images", ["person_id"])
    op.create_table(
        "face_embeddings",
        sa.Column(
            "face_id",
            sa.Integer(),
            sa.ForeignKey("face_images.face_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("embedder", sa.String(32), primary_key=True),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "recognition_events",
        sa.Column("event_id", EVENT_ID, primary_key=True, autoincrement=True),
        sa.Column("captured_at", TIMESTAMP, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("location", sa.String(255), nullable=True),
        sa.Column("person_id", sa.String(128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("box_left", sa.Integer(), nullable=False),
        sa.Column("box_top", sa.Integer(), nullable=False),
        sa.Column("box_right", sa.Integer(), nullable=False),
        sa.Column("box_bottom", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_events_person_time", "recognition_events", ["person_id", "captured_at"])
    op.create_index("ix_events_camera_time", "recognition_events", ["camera_id", "captured_at"])
    op.create_index("ix_events_time", "recognition_events", ["captured_at"])
    op.create_table(
        "training_jobs",
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires_at", TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("release_version", sa.String(64), nullable=True),
        sa.Column("people_count", sa.Integer(), nullable=True),
        sa.Column("faces_count", sa.Integer(), nullable=True),
        sa.Column("running_slot", sa.Integer(), nullable=True),
        sa.UniqueConstraint("running_slot", name="uq_training_jobs_running_slot"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_training_jobs_status", "training_jobs", ["status"])
    gallery_state = op.create_table(
        "gallery_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        **TABLE_OPTIONS,
    )
    op.bulk_insert(gallery_state, [{"id": 1, "version": 0}])
    op.create_table(
        "gallery_changes",
        sa.Column("version", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("face_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("person_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        **TABLE_OPTIONS,
    )


def downgrade() -> None:
    for table in (
        "api_keys",
        "gallery_changes",
        "gallery_state",
        "training_jobs",
        "recognition_events",
        "face_embeddings",
        "face_images",
        "people",
    ):
        op.drop_table(table)
