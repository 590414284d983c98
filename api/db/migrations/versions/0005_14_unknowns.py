"""Unknown people and corrections (issue 14): an index to read a group's sightings, the
operators' corrections of sightings, the negative faces of people ("wrong person"), and
dismissed unknown groups.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
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
    op.create_index("ix_events_unknown", "recognition_events", ["unknown_id", "captured_at"])
    op.create_table(
        "event_corrections",
        sa.Column("correction_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "event_id",
            EVENT_ID,
            sa.ForeignKey("recognition_events.event_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("previous_person_id", sa.String(128), nullable=True),
        sa.Column("person_id", sa.String(128), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_event_corrections_event_id", "event_corrections", ["event_id"])
    op.create_table(
        "negative_faces",
        sa.Column("negative_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "person_id",
            sa.String(128),
            sa.ForeignKey("people.person_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_id", EVENT_ID, nullable=True),
        sa.Column("embedder", sa.String(32), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_negative_faces_person_id", "negative_faces", ["person_id"])
    op.create_table(
        "unknown_dismissals",
        sa.Column("unknown_id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("dismissed_at", TIMESTAMP, nullable=False),
        **TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("unknown_dismissals")
    op.drop_table("negative_faces")
    op.drop_table("event_corrections")
    op.drop_index("ix_events_unknown", table_name="recognition_events")
