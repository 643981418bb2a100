"""The initial registry: parties and roles, grid areas, access points, meters and their installation,
measurement regimes, connection capacities, production installations, the batch catalogue and the
pseudonymisation keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the tables of the initial registry."""
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("format", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ingest",
                "estimation",
                "compaction",
                name="batch_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("committed", "failed", name="batch_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches_recorded_at"), ["recorded_at"], unique=False)

    op.create_table(
        "grid_areas",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_grid_areas")),
    )
    op.create_table(
        "meters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "digital", "amr", "classic", name="meter_kind", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column(
            "energy",
            sa.Enum("electricity", "gas", name="energy", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meters")),
        sa.UniqueConstraint("serial", name=op.f("uq_meters_serial")),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=13), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint("code", name=op.f("uq_parties_code")),
    )
    op.create_table(
        "pseudonym_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_pseudonym_keys")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_pseudonym_keys_fingerprint")),
    )
    op.create_table(
        "access_points",
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column(
            "energy",
            sa.Enum("electricity", "gas", name="energy", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("grid_area", sa.String(length=32), nullable=False),
        sa.Column("connected_from", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(ean) = 18", name=op.f("ck_access_points_ean_length")),
        sa.ForeignKeyConstraint(
            ["grid_area"], ["grid_areas.code"], name=op.f("fk_access_points_grid_area_grid_areas")
        ),
        sa.PrimaryKeyConstraint("ean", name=op.f("pk_access_points")),
    )
    with op.batch_alter_table("access_points", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_points_grid_area"), ["grid_area"], unique=False)

    op.create_table(
        "party_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "supplier",
                "brp",
                "dso",
                "energy_service_provider",
                "sharing_manager",
                name="party_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_party_roles_validity")),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_party_roles_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_roles")),
        sa.UniqueConstraint(
            "party_id", "role", "valid_from", name=op.f("uq_party_roles_party_id_role_valid_from")
        ),
    )
    op.create_table(
        "connection_capacities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column("capacity", sa.Double(), nullable=False),
        sa.Column(
            "unit",
            sa.Enum("kVA", "m3/h", name="capacity_unit", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_connection_capacities_capacity_positive")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_connection_capacities_validity")
        ),
        sa.ForeignKeyConstraint(
            ["ean"], ["access_points.ean"], name=op.f("fk_connection_capacities_ean_access_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_capacities")),
        sa.UniqueConstraint("ean", "valid_from", name=op.f("uq_connection_capacities_ean_valid_from")),
    )
    op.create_table(
        "measurement_regimes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column(
            "regime",
            sa.Enum("SMR1", "SMR3", name="regime", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_measurement_regimes_validity")
        ),
        sa.ForeignKeyConstraint(
            ["ean"], ["access_points.ean"], name=op.f("fk_measurement_regimes_ean_access_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement_regimes")),
        sa.UniqueConstraint("ean", "valid_from", name=op.f("uq_measurement_regimes_ean_valid_from")),
    )
    op.create_table(
        "meter_installations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_meter_installations_validity")
        ),
        sa.ForeignKeyConstraint(
            ["ean"], ["access_points.ean"], name=op.f("fk_meter_installations_ean_access_points")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_meter_installations_meter_id_meters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_installations")),
        sa.UniqueConstraint("ean", "valid_from", name=op.f("uq_meter_installations_ean_valid_from")),
        sa.UniqueConstraint(
            "meter_id", "valid_from", name=op.f("uq_meter_installations_meter_id_valid_from")
        ),
    )
    op.create_table(
        "production_installations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "pv",
                "battery",
                "wind",
                "chp",
                name="installation_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("kva", sa.Double(), nullable=False),
        sa.Column("commissioned_on", sa.Date(), nullable=False),
        sa.Column("decommissioned_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "decommissioned_on IS NULL OR decommissioned_on > commissioned_on",
            name=op.f("ck_production_installations_service_period"),
        ),
        sa.CheckConstraint("kva > 0", name=op.f("ck_production_installations_kva_positive")),
        sa.ForeignKeyConstraint(
            ["ean"], ["access_points.ean"], name=op.f("fk_production_installations_ean_access_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_installations")),
        sa.UniqueConstraint(
            "ean",
            "kind",
            "commissioned_on",
            name=op.f("uq_production_installations_ean_kind_commissioned_on"),
        ),
    )


def downgrade() -> None:
    """Drop every table of the initial registry."""
    op.drop_table("production_installations")
    op.drop_table("meter_installations")
    op.drop_table("measurement_regimes")
    op.drop_table("connection_capacities")
    op.drop_table("party_roles")
    with op.batch_alter_table("access_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_points_grid_area"))

    op.drop_table("access_points")
    op.drop_table("pseudonym_keys")
    op.drop_table("parties")
    op.drop_table("meters")
    op.drop_table("grid_areas")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_recorded_at"))

    op.drop_table("batches")
