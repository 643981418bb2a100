"""The billing figures of one access point over a period, from the meter-data store and the registry.

``kwartier billing EAN --from --to``: monthly offtake and injection per tariff period, the monthly and
billing peaks (a classic meter: the flat 2.5 kW), and, for a legacy prosumer, the net-metering settlement
of the period (the period is the settlement period) and the prosumer tariff
(:mod:`kwartier.billing.prosumer`). Values as known at ``as_of`` (default: now).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from kwartier.billing.capacity import ESTIMATED_QUARTERS, MINIMUM_PEAK_W, MONTH_INDEX, QUARTERS
from kwartier.billing.consumption import ENERGY_WH, daily_consumption, monthly_consumption, net_metering
from kwartier.billing.months import month_index, month_of_index, month_start
from kwartier.billing.peak_report import kw, peak_report, peaks_document
from kwartier.billing.prosumer import BillingFacts, billing_facts, prosumer_tariff_eur
from kwartier.config import EngineName, Settings
from kwartier.domain.timegrid import local_midnight_utc
from kwartier.engine import connect, load, to_arrow
from kwartier.registry.codes import MeterKind
from kwartier.registry.database import open_registry, upgrade
from kwartier.schema import AP, CHANNEL, DAY, MONTH, TARIFF
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore


def billing_statement(
    settings: Settings,
    ean: str,
    first: date,
    end: date,
    *,
    cutoff: date | None,
    eur_per_kva_year: Decimal,
    as_of: datetime | None = None,
    engine: EngineName = EngineName.DUCKDB,
    daily: bool = False,
) -> dict[str, Any]:
    """The billing figures of ``ean`` over the market days [first, end) as one JSON-ready document.

    ``cutoff``: the first day billed gross for a digital-meter prosumer with the virtual reverse counter
    (None: no netting of digital meters); ``daily`` adds the totals per market day.
    """
    if end <= first:
        raise ValueError("the period is empty: --to must be after --from")
    upgrade(settings.registry_url)
    with open_registry(settings.registry_url)() as session:
        facts = billing_facts(session, ean, first, end)
    ap = Pseudonymiser.from_key_file(settings.pseudonym_key_file).of(ean)
    history_from = month_of_index(month_index(first) - 11)  # the billing peak looks back 11 months
    store = MeterStore.open(settings.store_dir)
    readings = store.read_access_point(
        ap, local_midnight_utc(history_from), local_midnight_utc(end), as_of=as_of
    )
    backend = connect(engine)
    days = [date.fromordinal(n) for n in range(first.toordinal(), end.toordinal())]
    daily_totals = daily_consumption(backend, load(backend, readings), AP, days)
    monthly = to_arrow(monthly_consumption(daily_totals, AP), sort_by=[MONTH_INDEX, CHANNEL, TARIFF])
    document: dict[str, Any] = {
        "ean": ean,
        "from": first.isoformat(),
        "to": end.isoformat(),
        "meter": facts.meter_kind.value if facts.meter_kind else None,
        "months": _periods(monthly, "month"),
        "peaks": _peaks(backend, readings, ean, first, facts),
    }
    if daily:
        document["days"] = _periods(to_arrow(daily_totals, sort_by=[DAY, CHANNEL, TARIFF]), "day")
    netted = _netting_cutoff(facts, cutoff, end)
    if netted is not None:
        settlement = to_arrow(net_metering(daily_totals, AP, netted), sort_by=[TARIFF])
        document["net_metering"] = {
            "gross_from": netted.isoformat() if netted < end else None,
            "tariffs": [
                {name: value for name, value in row.items() if name != AP} for row in settlement.to_pylist()
            ],
        }
    if facts.pays_prosumer_tariff():
        document["prosumer_tariff"] = {
            "inverter_kva": facts.inverter_kva,
            "eur_per_kva_year": str(eur_per_kva_year),
            "eur": str(prosumer_tariff_eur(facts.inverter_kva, eur_per_kva_year, first, end)),
        }
    return document


def _netting_cutoff(facts: BillingFacts, cutoff: date | None, end: date) -> date | None:
    """The first day billed gross, or None when nothing is netted: a classic meter is netted throughout."""
    if facts.pays_prosumer_tariff():
        return end
    if cutoff is not None and facts.net_metered_digital():
        return cutoff
    return None


def _periods(totals: pa.Table, period: str) -> list[dict[str, Any]]:
    """Totals per period (``month`` or ``day``), channel and tariff period, in kWh with their counts."""
    periods: dict[str, dict[str, Any]] = {}
    for row in totals.to_pylist():
        label = (
            month_of_index(row[MONTH_INDEX]).strftime("%Y-%m") if period == "month" else row[DAY].isoformat()
        )
        entry = periods.setdefault(label, {period: label})
        entry.setdefault(row[CHANNEL], {})[row[TARIFF]] = {
            "kwh": row[ENERGY_WH] / 1000,
            QUARTERS: row[QUARTERS],
            ESTIMATED_QUARTERS: row[ESTIMATED_QUARTERS],
        }
    return [periods[label] for label in sorted(periods)]


def _peaks(
    backend: Any, readings: pa.Table, ean: str, first: date, facts: BillingFacts
) -> list[dict[str, Any]]:
    if facts.meter_kind is MeterKind.CLASSIC:
        return [{"flat": True, "billing_peak_kw": kw(MINIMUM_PEAK_W)}]
    report = peak_report(backend, AP, readings)
    shown = report.filter(pc.greater_equal(report.column(MONTH), pa.scalar(month_start(first), pa.date32())))
    points = peaks_document(shown, AP, dict.fromkeys(shown.column(AP).to_pylist(), ean))["access_points"]
    return list(points[0]["months"]) if points else []
