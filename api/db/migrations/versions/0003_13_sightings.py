"""Sightings an operator can see and search (issue 13): each event's face quality, the
face crop and embedding of every sighting, per-camera settings, and the columns the
grouping of unknown faces and corrections fill (`unknown_id`, `corrected`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def upgrade() -> None:
    with op.batch_alter_table("recognition_events") as batch:
        batch.add_column(sa.Column("quality", sa.Float(), nullable=True))
        batch.add_column(sa.Column("unknown_id", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("corrected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "sighting_faces",
        sa.Column(
            "event_id",
            EVENT_ID,
            sa.ForeignKey("recognition_events.event_id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("embedder", sa.String(32), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "cameras",
        sa.Column("camera_id", sa.String(128), primary_key=True),
        sa.Column("location", sa.String(255), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        **TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("cameras")
    op.drop_table("sighting_faces")
    with op.batch_alter_table("recognition_events") as batch:
        batch.drop_column("corrected")
        batch.drop_column("unknown_id")
        batch.drop_column("quality")
