"""The two append-only logs of the market, the register facts and the process events, lose their foreign
keys (to the access point, to the process): PostgreSQL checked one per inserted row with a query and a
row lock, a fifth of a replay of market messages (issue 3). Why nothing is lost: the module docstring of
:mod:`kwartier.registry.access_register`.

Revision ID: 0006_logs_without_foreign_keys
Revises: 0005_market_unused_indexes
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_logs_without_foreign_keys"
down_revision: str | Sequence[str] | None = "0005_market_unused_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop the foreign keys of ``register_facts.ean`` and ``process_events.process_id``."""
    with op.batch_alter_table("register_facts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_register_facts_ean_access_points"), type_="foreignkey")
    with op.batch_alter_table("process_events", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_process_events_process_id_market_processes"), type_="foreignkey"
        )


def downgrade() -> None:
    """Create them again."""
    with op.batch_alter_table("process_events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_process_events_process_id_market_processes"),
            "market_processes",
            ["process_id"],
            ["id"],
        )
    with op.batch_alter_table("register_facts", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_register_facts_ean_access_points"), "access_points", ["ean"], ["ean"]
        )
