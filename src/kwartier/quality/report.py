"""The regulator's quality indicators of the measurement data, per energy, as known at a moment.

Seed 000 §4.1.2 (non-communicating digital meters) and §6.2.4 (availability and timeliness of meter
data, figures 10-14). :func:`compute_quality` runs the three indicators of
:mod:`~kwartier.quality.non_communicating`, :mod:`~kwartier.quality.timeliness` and
:mod:`~kwartier.quality.availability` on whatever engine holds the input tables (DuckDB or PySpark);
every count is aggregated in the engine, and shares are computed here from the integer counts, so both
engines give the same report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from rich.table import Table

from kwartier.domain.channels import Energy
from kwartier.quality.availability import DayAvailability, day_availability
from kwartier.quality.day_states import HORIZONS, day_states
from kwartier.quality.non_communicating import NonCommunicating, non_communicating
from kwartier.quality.population import day_table, grid_days, main_channel
from kwartier.quality.timeliness import Timeliness, delivery_deadline, timeliness

SHARE_DECIMALS = 4
DAY_KINDS = ("fully_estimated", "partly_estimated", "fully_missing", "partly_missing")


@dataclass(frozen=True)
class EnergyQuality:
    """The three indicators of one energy over its period (market days, or gas days for gas)."""

    energy: Energy
    first_day: date
    last_day: date
    non_communicating: NonCommunicating
    timeliness: Timeliness
    availability: DayAvailability


@dataclass(frozen=True)
class QualityReport:
    """Quality indicators of electricity and gas as known at ``as_of`` (UTC)."""

    as_of: datetime
    electricity: EnergyQuality
    gas: EnergyQuality

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: counts, shares as fractions with 4 decimals, thresholds, pass flags."""
        return {
            "as_of": self.as_of.isoformat(),
            **{part.energy.value: _energy_dict(part) for part in (self.electricity, self.gas)},
        }


def compute_quality(
    versions: Any, context: Any, grid_electricity: Any, grid_gas: Any, as_of: datetime
) -> QualityReport:
    """Compute the quality indicators from Ibis tables on one backend.

    ``versions``: all stored versions of readings in the period (``STORED_READINGS``); ``context``:
    registry facts (``ACCESS_POINT_CONTEXT``); ``grid_electricity`` / ``grid_gas``: the expected slots
    (``day``, ``start``, ``minutes``) of the market days / gas days of the period; ``as_of``: an aware
    instant, only versions recorded at or before it count.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be an aware datetime (UTC)")
    moment = as_of.astimezone(UTC)
    parts = {
        energy: _energy_quality(versions, context, grid, energy, moment)
        for energy, grid in ((Energy.ELECTRICITY, grid_electricity), (Energy.GAS, grid_gas))
    }
    return QualityReport(as_of=moment, electricity=parts[Energy.ELECTRICITY], gas=parts[Energy.GAS])


def _energy_quality(versions: Any, context: Any, grid: Any, energy: Energy, as_of: datetime) -> EnergyQuality:
    listed = grid_days(grid)
    days = day_table(grid, listed, lambda day, n: delivery_deadline(day, n, energy), HORIZONS)
    with day_states(versions, grid, days, main_channel(energy), as_of) as states:
        return EnergyQuality(
            energy=energy,
            first_day=listed[0].day,
            last_day=listed[-1].day,
            non_communicating=non_communicating(versions, context, grid, days, energy, as_of),
            timeliness=timeliness(states, context, days, energy),
            availability=day_availability(states, context, days, energy),
        )


def _fraction(value: float | None) -> float | None:
    return None if value is None else round(value, SHARE_DECIMALS)


def _energy_dict(part: EnergyQuality) -> dict[str, Any]:
    nc, tl, av = part.non_communicating, part.timeliness, part.availability
    return {
        "period": {"first_day": part.first_day.isoformat(), "last_day": part.last_day.isoformat()},
        "non_communicating": {
            "digital_meters": nc.digital_meters,
            "non_communicating": nc.non_communicating,
            "share": _fraction(nc.share),
            "threshold": nc.threshold_percent / 100,
            "passed": nc.passed,
        },
        "timeliness": {
            "channel": tl.channel.value,
            "expected_slots": tl.expected_slots,
            "by_d1": tl.by_d1,
            "by_d2": tl.by_d2,
            "by_d3": tl.by_d3,
            "later": tl.later,
            "not_yet": tl.not_yet,
            "share_by_d1": _fraction(tl.share(tl.by_d1)),
            "share_by_d2": _fraction(tl.share(tl.by_d2)),
            "share_by_d3": _fraction(tl.share(tl.by_d3)),
            "share_all": _fraction(tl.share(tl.measured)),
        },
        "days_per_access_point": {
            "channel": av.channel.value,
            "access_points": av.access_points,
            "access_point_days": av.access_point_days,
            **{
                kind: {"days": days, "per_access_point": _fraction(av.per_access_point(days))}
                for kind, days in _day_kinds(av).items()
            },
        },
    }


def _day_kinds(av: DayAvailability) -> dict[str, int]:
    return {kind: int(getattr(av, kind)) for kind in DAY_KINDS}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


def _average(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def render(report: QualityReport) -> list[Table]:
    """Readable tables of the report: one per indicator, a row per energy, shares in percent."""
    parts = (report.electricity, report.gas)
    stamp = report.as_of.isoformat()

    meters = Table(title=f"Non-communicating digital meters (as of {stamp})")
    for header in ("energy", "period", "digital meters", "non-communicating", "share", "threshold", "result"):
        meters.add_column(header)
    for part in parts:
        nc = part.non_communicating
        meters.add_row(
            part.energy.value,
            f"{part.first_day} – {part.last_day}",
            str(nc.digital_meters),
            str(nc.non_communicating),
            _percent(nc.share),
            f"{nc.threshold_percent} %",
            "pass" if nc.passed else "FAIL",
        )

    timely = Table(title="Timeliness: first measured value available by the end of day D+n")
    for header in ("energy", "channel", "expected slots", "D+1", "D+2", "D+3", "all", "later", "not yet"):
        timely.add_column(header)
    for part in parts:
        tl = part.timeliness
        timely.add_row(
            part.energy.value,
            tl.channel.value,
            str(tl.expected_slots),
            _percent(tl.share(tl.by_d1)),
            _percent(tl.share(tl.by_d2)),
            _percent(tl.share(tl.by_d3)),
            _percent(tl.share(tl.measured)),
            str(tl.later),
            str(tl.not_yet),
        )

    days = Table(title="Days with estimated or missing values, average per access point")
    for header in ("energy", "access points", "days", *(kind.replace("_", " ") for kind in DAY_KINDS)):
        days.add_column(header)
    for part in parts:
        av = part.availability
        days.add_row(
            part.energy.value,
            str(av.access_points),
            str(av.access_point_days),
            *(_average(av.per_access_point(count)) for count in _day_kinds(av).values()),
        )
    return [meters, timely, days]
