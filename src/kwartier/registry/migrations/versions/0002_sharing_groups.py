"""Energy-sharing groups and peer-to-peer sales: the groups, their terms (key, P2P price) and participants
with their key shares, each over a validity period (issue 5, seed 002).

Revision ID: 0002_sharing_groups
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_sharing_groups"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the sharing-group tables."""
    op.create_table(
        "sharing_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column(
            "form",
            sa.Enum(
                "building",
                "community",
                "self",
                "p2p",
                name="sharing_form",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("manager_party_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_party_id"], ["parties.id"], name=op.f("fk_sharing_groups_manager_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_groups")),
        sa.UniqueConstraint("code", name=op.f("uq_sharing_groups_code")),
    )
    op.create_table(
        "sharing_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column(
            "key",
            sa.Enum(
                "fixed",
                "relative",
                "optimal",
                name="allocation_key",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("price_eur_per_kwh", sa.Numeric(precision=10, scale=5), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "price_eur_per_kwh IS NULL OR price_eur_per_kwh >= 0",
            name=op.f("ck_sharing_terms_price_not_negative"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_sharing_terms_validity")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["sharing_groups.id"], name=op.f("fk_sharing_terms_group_id_sharing_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_terms")),
        sa.UniqueConstraint("group_id", "valid_from", name=op.f("uq_sharing_terms_group_id_valid_from")),
    )
    op.create_table(
        "sharing_participations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column("share_ppm", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "share_ppm >= 0 AND share_ppm <= 1000000", name=op.f("ck_sharing_participations_share_range")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_sharing_participations_validity")
        ),
        sa.ForeignKeyConstraint(
            ["ean"], ["access_points.ean"], name=op.f("fk_sharing_participations_ean_access_points")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["sharing_groups.id"],
            name=op.f("fk_sharing_participations_group_id_sharing_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_participations")),
        sa.UniqueConstraint(
            "group_id", "ean", "valid_from", name=op.f("uq_sharing_participations_group_id_ean_valid_from")
        ),
    )
    with op.batch_alter_table("sharing_participations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sharing_participations_ean"), ["ean"], unique=False)


def downgrade() -> None:
    """Drop the sharing-group tables."""
    with op.batch_alter_table("sharing_participations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_participations_ean"))
    op.drop_table("sharing_participations")
    op.drop_table("sharing_terms")
    op.drop_table("sharing_groups")
