"""Grid areas, access points and the facts of an access point that hold over a validity period.

Validity periods are half-open ranges of market days [valid_from, valid_to); ``valid_to`` null means
open-ended. The access point table holds no name or address of a person (design.md: personal data stays
out of the technical registry tables; the EAN identifies a connection, not a customer).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kwartier.domain.channels import Energy
from kwartier.domain.ean import EAN_LENGTH
from kwartier.registry.base import Base, UtcDateTime, code_list, validity_check
from kwartier.registry.codes import CapacityUnit, Regime


class GridArea(Base):
    """A distribution grid area of the DSO."""

    __tablename__ = "grid_areas"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))


class AccessPoint(Base):
    """An access point, identified by its EAN-18, connected to the grid from ``connected_from``."""

    __tablename__ = "access_points"
    __table_args__ = (sa.CheckConstraint(f"length(ean) = {EAN_LENGTH}", name="ean_length"),)

    ean: Mapped[str] = mapped_column(sa.String(EAN_LENGTH), primary_key=True)
    energy: Mapped[Energy] = mapped_column(code_list(Energy, "energy"))
    grid_area: Mapped[str] = mapped_column(sa.ForeignKey("grid_areas.code"), index=True)
    connected_from: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())  # when the registry learnt of it


class MeasurementRegime(Base):
    """The measurement regime (SMR1 / SMR3) of an access point on [valid_from, valid_to)."""

    __tablename__ = "measurement_regimes"
    __table_args__ = (sa.UniqueConstraint("ean", "valid_from"), validity_check())

    id: Mapped[int] = mapped_column(primary_key=True)
    ean: Mapped[str] = mapped_column(sa.ForeignKey("access_points.ean"))
    regime: Mapped[Regime] = mapped_column(code_list(Regime, "regime"))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]


class ConnectionCapacity(Base):
    """The connection capacity of an access point on [valid_from, valid_to), in kVA or m³/h."""

    __tablename__ = "connection_capacities"
    __table_args__ = (
        sa.UniqueConstraint("ean", "valid_from"),
        validity_check(),
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ean: Mapped[str] = mapped_column(sa.ForeignKey("access_points.ean"))
    capacity: Mapped[float] = mapped_column(sa.Double())
    unit: Mapped[CapacityUnit] = mapped_column(code_list(CapacityUnit, "capacity_unit"))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
