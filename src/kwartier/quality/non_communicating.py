"""Indicator 1: non-communicating digital meters (seed 000 §4.1.2; Energiedecreet art. 4.1.22/3).

Rule: a digital meter is non-communicating when it is active but cannot be read remotely by the DSO.
Here: among the access points of an energy with a digital meter on at least one day of the period,
those for which no value of any channel of that energy (electricity: offtake, injection; gas: volume,
energy) on a day with the digital meter was *communicated* as known at ``as_of``. A value was
communicated when a version has status ``measured`` or ``rejected`` (a rejected value still reached the
DSO); estimated versions are the DSO's own and do not count. The DSO must keep the share of
non-communicating digital meters at or below 3 % for electricity and 6 % for gas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kwartier.domain.channels import Energy, ReadingStatus
from kwartier.quality.population import (
    DIGITAL,
    access_point_days,
    as_of_literal,
    channels_of,
    scalar_row,
)
from kwartier.schema import AP, CHANNEL, DAY, RECORDED_AT, START, STATUS

THRESHOLD_PERCENT: dict[Energy, int] = {Energy.ELECTRICITY: 3, Energy.GAS: 6}

COMMUNICATING = "communicating"


@dataclass(frozen=True)
class NonCommunicating:
    """Digital meters of one energy and how many of them communicated nothing in the period."""

    energy: Energy
    digital_meters: int
    non_communicating: int
    threshold_percent: int

    @property
    def share(self) -> float | None:
        """Fraction of the digital meters that are non-communicating (None without digital meters)."""
        return self.non_communicating / self.digital_meters if self.digital_meters else None

    @property
    def passed(self) -> bool:
        """True when the share is at or below the threshold (exact integer comparison)."""
        return self.non_communicating * 100 <= self.threshold_percent * self.digital_meters


def non_communicating(
    versions: Any, context: Any, grid: Any, days: Any, energy: Energy, as_of: datetime
) -> NonCommunicating:
    """Count the digital meters of ``energy`` and the non-communicating ones among them.

    ``grid`` gives each value's day by its ``start`` (any resolution starting on a grid slot counts);
    ``days`` is the period's day table (:func:`~kwartier.quality.population.day_table`).
    """
    on_days = access_point_days(context, days, energy, [DIGITAL])
    sent = versions.filter(
        versions[CHANNEL].isin(channels_of(energy)),
        versions[STATUS].isin([ReadingStatus.MEASURED.value, ReadingStatus.REJECTED.value]),
        versions[RECORDED_AT] <= as_of_literal(as_of),
    )
    dated = sent.join(grid, sent[START] == grid[START]).select(sent[AP], grid[DAY])
    communicated = dated.semi_join(on_days, [AP, DAY]).select(AP).distinct()
    meters = on_days.select(AP).distinct()
    flagged = meters.mutate(**{COMMUNICATING: meters[AP].isin(communicated[AP])})
    counts = scalar_row(
        flagged.aggregate(
            digital_meters=flagged.count(),
            non_communicating=flagged.count(where=~flagged[COMMUNICATING]),
        )
    )
    return NonCommunicating(
        energy=energy,
        digital_meters=counts["digital_meters"],
        non_communicating=counts["non_communicating"],
        threshold_percent=THRESHOLD_PERCENT[energy],
    )
