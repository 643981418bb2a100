"""The access register and its market processes: bitemporal register facts, market processes with
their event history and reservations, the inbox (idempotency) and the outbox (issue 3).

Revision ID: 0003_access_register
Revises: 0002_sharing_groups
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_access_register"
down_revision: str | Sequence[str] | None = "0002_sharing_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the tables of the access register and the market processes."""
    op.create_table(
        "market_inbox",
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("sender", sa.String(length=13), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_market_inbox")),
    )
    op.create_index(op.f("ix_market_inbox_ean"), "market_inbox", ["ean"], unique=False)
    op.create_table(
        "market_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=True),
        sa.Column("process_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_market_outbox_message_id")),
    )
    op.create_index(op.f("ix_market_outbox_ean"), "market_outbox", ["ean"], unique=False)
    op.create_index(op.f("ix_market_outbox_recipient"), "market_outbox", ["recipient"], unique=False)
    op.create_table(
        "market_processes",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "switch",
                "move_in",
                "move_out",
                "end_of_supply",
                "regime_change",
                "production",
                "meter_exchange",
                name="process_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "awaiting_index",
                "notice",
                "needs_attention",
                "completed",
                "cancelled",
                name="process_state",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("sender", sa.String(length=13), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("attention_reason", sa.String(length=32), nullable=True),
        sa.Column("attention_text", sa.Text(), nullable=True),
        sa.Column("attention_actions", sa.Text(), nullable=True),
        sa.Column("attention_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ean"], ["access_points.ean"], name=op.f("fk_market_processes_ean_access_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_processes")),
    )
    op.create_index(op.f("ix_market_processes_ean"), "market_processes", ["ean"], unique=False)
    op.create_index(op.f("ix_market_processes_state"), "market_processes", ["state"], unique=False)
    op.create_table(
        "register_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column("attribute", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["ean"], ["access_points.ean"], name=op.f("fk_register_facts_ean_access_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_facts")),
    )
    op.create_index("ix_register_facts_ean_attribute", "register_facts", ["ean", "attribute"], unique=False)
    op.create_table(
        "process_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["market_processes.id"],
            name=op.f("fk_process_events_process_id_market_processes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_events")),
        sa.UniqueConstraint("process_id", "step", name=op.f("uq_process_events_process_id_step")),
    )
    op.create_table(
        "reservations",
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalation", sa.String(length=200), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.String(length=64), nullable=True),
        sa.CheckConstraint("level >= 0", name=op.f("ck_reservations_level_not_negative")),
        sa.ForeignKeyConstraint(
            ["ean"], ["access_points.ean"], name=op.f("fk_reservations_ean_access_points")
        ),
        sa.ForeignKeyConstraint(
            ["process_id"], ["market_processes.id"], name=op.f("fk_reservations_process_id_market_processes")
        ),
        sa.PrimaryKeyConstraint("process_id", name=op.f("pk_reservations")),
    )
    op.create_index(op.f("ix_reservations_deadline"), "reservations", ["deadline"], unique=False)
    op.create_index(op.f("ix_reservations_ean"), "reservations", ["ean"], unique=False)


def downgrade() -> None:
    """Drop the tables of the access register and the market processes."""
    op.drop_index(op.f("ix_reservations_ean"), table_name="reservations")
    op.drop_index(op.f("ix_reservations_deadline"), table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("process_events")
    op.drop_index("ix_register_facts_ean_attribute", table_name="register_facts")
    op.drop_table("register_facts")
    op.drop_index(op.f("ix_market_processes_state"), table_name="market_processes")
    op.drop_index(op.f("ix_market_processes_ean"), table_name="market_processes")
    op.drop_table("market_processes")
    op.drop_index(op.f("ix_market_outbox_recipient"), table_name="market_outbox")
    op.drop_index(op.f("ix_market_outbox_ean"), table_name="market_outbox")
    op.drop_table("market_outbox")
    op.drop_index(op.f("ix_market_inbox_ean"), table_name="market_inbox")
    op.drop_table("market_inbox")
