"""Legacy prosumers: who is billed under net metering, and the prosumer tariff of a classic meter.

Rules (seed 003, seed 001 art. 34):
- a **classic (Ferraris) meter** with production behind it runs backwards physically: it is netted until
  it is replaced, whatever the cut-off date, and its owner pays the **prosumer tariff**: the inverter
  power [kVA] × a tariff [€/kVA per year], pro rata of the days of the period (the seed quotes about
  €400 a year for a 4 kW installation, hence a default of 100 €/kVA; each grid area sets its own);
- a **digital meter** placed before 2021-01-01 with a production installation commissioned before
  2021-01-01 had the "virtual" reverse-running counter until the day the Constitutional Court's judgment
  was published (the cut-off date); installations commissioned from 2021-01-01 on never had it, and a
  digital meter pays no prosumer tariff (its offtake is billed gross).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.registry.codes import InstallationKind, MeterKind
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.meters import Meter, MeterInstallation

NET_METERING_ENDS_FOR_NEW_INSTALLATIONS: Final = date(2021, 1, 1)
DEFAULT_PROSUMER_EUR_PER_KVA_YEAR: Final = Decimal(100)
CENT: Final = Decimal("0.01")


@dataclass(frozen=True)
class BillingFacts:
    """The registry facts billing needs of one access point over a period."""

    meter_kind: MeterKind | None  # the meter installed at the end of the period; None: no meter
    meter_installed_on: date | None
    inverter_kva: float  # production installations (not batteries) in service during the period
    production_since: date | None  # commissioning of the earliest of them

    def net_metered_digital(self) -> bool:
        """A digital meter and its production both from before 2021: the virtual reverse counter."""
        return (
            self.meter_kind is MeterKind.DIGITAL
            and self.production_since is not None
            and self.production_since < NET_METERING_ENDS_FOR_NEW_INSTALLATIONS
            and self.meter_installed_on is not None
            and self.meter_installed_on < NET_METERING_ENDS_FOR_NEW_INSTALLATIONS
        )

    def pays_prosumer_tariff(self) -> bool:
        """A classic meter with production behind it."""
        return self.meter_kind is MeterKind.CLASSIC and self.inverter_kva > 0


def billing_facts(session: Session, ean: str, first: date, end: date) -> BillingFacts:
    """The :class:`BillingFacts` of ``ean`` over the days [first, end)."""
    installed = session.execute(
        sa.select(Meter.kind, MeterInstallation.valid_from)
        .join(MeterInstallation, Meter.id == MeterInstallation.meter_id)
        .where(MeterInstallation.ean == ean, MeterInstallation.valid_from < end)
        .where(sa.or_(MeterInstallation.valid_to.is_(None), MeterInstallation.valid_to > first))
        .order_by(MeterInstallation.valid_from.desc())
        .limit(1)
    ).first()
    production = session.execute(
        sa.select(ProductionInstallation.kva, ProductionInstallation.commissioned_on).where(
            ProductionInstallation.ean == ean,
            ProductionInstallation.kind != InstallationKind.BATTERY,
            ProductionInstallation.commissioned_on < end,
            sa.or_(
                ProductionInstallation.decommissioned_on.is_(None),
                ProductionInstallation.decommissioned_on > first,
            ),
        )
    ).all()
    return BillingFacts(
        meter_kind=installed[0] if installed else None,
        meter_installed_on=installed[1] if installed else None,
        inverter_kva=sum(kva for kva, _ in production),
        production_since=min((since for _, since in production), default=None),
    )


def prosumer_tariff_eur(kva: float, eur_per_kva_year: Decimal, first: date, end: date) -> Decimal:
    """Prosumer tariff [€] of ``kva`` inverter power over the days [first, end), pro rata of the days of
    each calendar year (365 or 366), rounded half up to the cent."""
    total = Decimal(0)
    day = first
    while day < end:
        year_end = date(day.year + 1, 1, 1)
        part_end = min(end, year_end)
        days_in_year = (year_end - date(day.year, 1, 1)).days
        total += Decimal(str(kva)) * eur_per_kva_year * Decimal((part_end - day).days) / Decimal(days_in_year)
        day = part_end
    return total.quantize(CENT, rounding=ROUND_HALF_UP)
