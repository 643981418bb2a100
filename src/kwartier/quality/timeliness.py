"""Indicator 2: timeliness of measured values (seed 000 §6.2.4, figure 14).

Rule: over all expected slots of the access points with a digital meter — electricity: the offtake
quarter hours of each market day; gas: the gas-volume hours of each gas day — the share whose first
``measured`` version (a rejected or estimated one does not count) was recorded by the end of D+1, D+2
and D+3, where D is the slot's market day (gas day). The end of D+n is the local midnight
(Europe/Brussels) closing day D+n for electricity, and 06:00 local time closing gas day D+n for gas; a
version recorded at that instant is late for D+n. The remaining slots arrived later than D+3, or not
(yet) at ``as_of``. The shares are cumulative: D+1 <= D+2 <= D+3 <= all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from kwartier.domain.channels import Channel, Energy
from kwartier.domain.timegrid import gas_day_bounds, market_day_bounds
from kwartier.quality.day_states import BY, MEASURED
from kwartier.quality.population import DIGITAL, SLOTS, access_point_days, main_channel, scalar_row
from kwartier.schema import AP, DAY


def delivery_deadline(day: date, days_after: int, energy: Energy) -> datetime:
    """UTC end of day D+``days_after`` for a slot of market day (gas day) ``day``."""
    later = day + timedelta(days=days_after)
    bounds = market_day_bounds(later) if energy is Energy.ELECTRICITY else gas_day_bounds(later)
    return bounds[1]


@dataclass(frozen=True)
class Timeliness:
    """Expected slots of one energy's digital meters and when their first measured value arrived."""

    energy: Energy
    channel: Channel
    expected_slots: int
    by_d1: int  # first measured version recorded before the end of D+1
    by_d2: int
    by_d3: int
    measured: int  # first measured version recorded at all (at or before as_of)

    @property
    def later(self) -> int:
        """Slots whose first measured value arrived after the end of D+3 (and by as_of)."""
        return self.measured - self.by_d3

    @property
    def not_yet(self) -> int:
        """Slots without a measured value at as_of."""
        return self.expected_slots - self.measured

    def share(self, count: int) -> float | None:
        """``count`` as a fraction of the expected slots (None when no slot was expected)."""
        return count / self.expected_slots if self.expected_slots else None


def timeliness(states: Any, context: Any, days: Any, energy: Energy) -> Timeliness:
    """Count expected slots and first-measured arrivals by D+1..D+3 for the digital meters of ``energy``.

    ``states``: the per-day counts of :func:`~kwartier.quality.day_states.day_states` for the energy's
    main channel; ``days``: the day table with ``slots`` and ``deadline_1`` … ``deadline_3``.
    """
    on_days = access_point_days(context, days, energy, [DIGITAL]).join(days, DAY)
    joined = on_days.left_join(states, [on_days[AP] == states[AP], on_days[DAY] == states[DAY]])
    slot_counts = joined.select(on_days[SLOTS], *(states[name] for name in (MEASURED, *BY)))
    counts = scalar_row(
        slot_counts.aggregate(
            expected_slots=slot_counts[SLOTS].sum(),
            **{name: slot_counts[name].sum() for name in (MEASURED, *BY)},
        )
    )
    return Timeliness(
        energy=energy,
        channel=main_channel(energy),
        expected_slots=counts["expected_slots"],
        by_d1=counts["by_d1"],
        by_d2=counts["by_d2"],
        by_d3=counts["by_d3"],
        measured=counts[MEASURED],
    )
