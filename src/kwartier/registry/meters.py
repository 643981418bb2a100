"""Meters and their installation on an access point over a validity period.

A meter is installed on an access point on the market days [valid_from, valid_to) (``valid_to`` null:
still installed). Finding the access point of a meter on a day answers which EAN a head-end reading of
that meter belongs to.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from kwartier.domain.channels import Energy
from kwartier.registry.base import Base, code_list, validity_check
from kwartier.registry.codes import MeterKind


class Meter(Base):
    """A physical meter, identified by its serial number."""

    __tablename__ = "meters"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[MeterKind] = mapped_column(code_list(MeterKind, "meter_kind"))
    energy: Mapped[Energy] = mapped_column(code_list(Energy, "energy"))


class MeterInstallation(Base):
    """Meter ``meter_id`` is installed on access point ``ean`` on [valid_from, valid_to)."""

    __tablename__ = "meter_installations"
    __table_args__ = (
        sa.UniqueConstraint("ean", "valid_from"),
        sa.UniqueConstraint("meter_id", "valid_from"),
        validity_check(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ean: Mapped[str] = mapped_column(sa.ForeignKey("access_points.ean"))
    meter_id: Mapped[int] = mapped_column(sa.ForeignKey("meters.id"))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]


def meter_to_ean(session: Session, serial: str, at: date) -> str | None:
    """EAN of the access point meter ``serial`` is installed on on market day ``at``; None if none."""
    query = (
        sa.select(MeterInstallation.ean)
        .join(Meter, Meter.id == MeterInstallation.meter_id)
        .where(
            Meter.serial == serial,
            MeterInstallation.valid_from <= at,
            sa.or_(MeterInstallation.valid_to.is_(None), MeterInstallation.valid_to > at),
        )
    )
    return session.execute(query).scalar_one_or_none()
