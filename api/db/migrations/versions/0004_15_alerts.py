"""Alerts (issue 15): destinations, rules, per-rule cooldowns and the delivery outbox.

Types are spelled out here, not imported from `api.db.schema`, so later changes to that
module never rewrite history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
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
    op.create_table(
        "alert_destinations",
        sa.Column("destination_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("topic", sa.String(512), nullable=True),
        sa.Column("last_seen_topic", sa.String(512), nullable=True),
        sa.Column("username", sa.String(255), nullable=True),
        sa.Column("secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires_at", TIMESTAMP, nullable=True),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "alert_rules",
        sa.Column("rule_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column(
            "destination_id",
            sa.String(32),
            sa.ForeignKey("alert_destinations.destination_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("person_ids", sa.Text(), nullable=True),
        sa.Column("unknown", sa.Boolean(), nullable=False),
        sa.Column("camera_ids", sa.Text(), nullable=True),
        sa.Column("days", sa.String(32), nullable=True),
        sa.Column("start_time", sa.String(5), nullable=True),
        sa.Column("end_time", sa.String(5), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("min_confidence", sa.Float(), nullable=True),
        sa.Column("min_quality", sa.Float(), nullable=True),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_alert_rules_destination_id", "alert_rules", ["destination_id"])
    op.create_table(
        "alert_cooldowns",
        sa.Column(
            "rule_id",
            sa.String(32),
            sa.ForeignKey("alert_rules.rule_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("subject", sa.String(160), primary_key=True),
        sa.Column("camera_id", sa.String(128), primary_key=True),
        sa.Column("last_fired_at", TIMESTAMP, nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("delivery_id", EVENT_ID, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(32), nullable=False, unique=True),
        sa.Column("rule_id", sa.String(32), nullable=False),
        sa.Column(
            "destination_id",
            sa.String(32),
            sa.ForeignKey("alert_destinations.destination_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "event_id",
            EVENT_ID,
            sa.ForeignKey("recognition_events.event_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("person_id", sa.String(128), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_alert_deliveries_event_id", "alert_deliveries", ["event_id"])
    op.create_index(
        "ix_alert_deliveries_queue", "alert_deliveries", ["destination_id", "status", "delivery_id"]
    )
    op.create_index("ix_alert_deliveries_status", "alert_deliveries", ["status", "delivery_id"])


def downgrade() -> None:
    for table in ("alert_deliveries", "alert_cooldowns", "alert_rules", "alert_destinations"):
        op.drop_table(table)
