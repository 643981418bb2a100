"""The market's inbox and outbox lose their indexes on the EAN: no query looks a message up by EAN (the
inbox by message id, the outbox by recipient and id), and every row written paid for them: 5 % of a
200,000-message replay on SQLite (issue 3).

Revision ID: 0005_market_unused_indexes
Revises: 0004_data_access
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_market_unused_indexes"
down_revision: str | Sequence[str] | None = "0004_data_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop the EAN indexes of the market inbox and outbox."""
    op.drop_index(op.f("ix_market_outbox_ean"), table_name="market_outbox")
    op.drop_index(op.f("ix_market_inbox_ean"), table_name="market_inbox")


def downgrade() -> None:
    """Create them again."""
    op.create_index(op.f("ix_market_inbox_ean"), "market_inbox", ["ean"], unique=False)
    op.create_index(op.f("ix_market_outbox_ean"), "market_outbox", ["ean"], unique=False)
