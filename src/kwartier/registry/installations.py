"""Production and storage installations behind an access point (PV, battery, wind, CHP).

An installation produces from ``commissioned_on`` up to the day before ``decommissioned_on`` (null: still
in service), the same half-open convention as the validity periods.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kwartier.registry.base import Base, code_list
from kwartier.registry.codes import InstallationKind


class ProductionInstallation(Base):
    """An installation of ``kind`` with rated power ``kva`` [kVA] behind access point ``ean``."""

    __tablename__ = "production_installations"
    __table_args__ = (
        sa.UniqueConstraint("ean", "kind", "commissioned_on"),
        sa.CheckConstraint(
            "decommissioned_on IS NULL OR decommissioned_on > commissioned_on", name="service_period"
        ),
        sa.CheckConstraint("kva > 0", name="kva_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ean: Mapped[str] = mapped_column(sa.ForeignKey("access_points.ean"))
    kind: Mapped[InstallationKind] = mapped_column(code_list(InstallationKind, "installation_kind"))
    kva: Mapped[float] = mapped_column(sa.Double())
    commissioned_on: Mapped[date]
    decommissioned_on: Mapped[date | None]
