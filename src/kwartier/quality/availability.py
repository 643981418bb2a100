"""Indicator 3: days with estimated or missing values per access point (seed 000 §6.2.4, figures 10-13).

Rule: the *current* value of a slot as known at ``as_of`` is its latest non-rejected version recorded at
or before ``as_of`` (a measured and an estimated version recorded at the same instant: the measured one
wins). For every access point with a digital or AMR meter of an energy and every day of the period on
which it has that meter — electricity: offtake quarter hours of the market day; gas: gas-volume hours of
the gas day — the day is exactly one of:

- *fully missing*: no slot has a current value;
- *partly missing*: some, but not all, slots have a current value;
- *fully estimated*: every slot has a current value and every one is estimated;
- *partly estimated*: every slot has a current value, at least one estimated and at least one measured;
- otherwise (every slot measured) it is complete.

The regulator reports the average number of such days per access point ("1,13 days fully estimated
per user"): the count of days of a kind divided by the number of access points counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis

from kwartier.domain.channels import Channel, Energy
from kwartier.quality.day_states import ESTIMATED, PRESENT
from kwartier.quality.population import AMR, DIGITAL, SLOTS, access_point_days, main_channel, scalar_row
from kwartier.schema import AP, DAY


@dataclass(frozen=True)
class DayAvailability:
    """Access-point days of one energy by the state of their current values."""

    energy: Energy
    channel: Channel
    access_points: int
    access_point_days: int
    fully_estimated: int
    partly_estimated: int
    fully_missing: int
    partly_missing: int

    def per_access_point(self, days: int) -> float | None:
        """``days`` averaged over the access points (None when there is none)."""
        return days / self.access_points if self.access_points else None


def day_availability(states: Any, context: Any, days: Any, energy: Energy) -> DayAvailability:
    """Classify each access-point day of the digital and AMR meters of ``energy`` and count the kinds.

    ``states``: the per-day counts of :func:`~kwartier.quality.day_states.day_states` for the energy's
    main channel; ``days``: the day table with ``slots``.
    """
    on_days = access_point_days(context, days, energy, [DIGITAL, AMR]).join(days, DAY)
    joined = on_days.left_join(states, [on_days[AP] == states[AP], on_days[DAY] == states[DAY]])
    day_facts = joined.select(
        on_days[AP],
        on_days[SLOTS],
        ibis.coalesce(states[PRESENT], 0).name(PRESENT),
        ibis.coalesce(states[ESTIMATED], 0).name(ESTIMATED),
    )
    present, estimated, slots = day_facts[PRESENT], day_facts[ESTIMATED], day_facts[SLOTS]
    complete = present == slots
    counts = scalar_row(
        day_facts.aggregate(
            access_points=day_facts[AP].nunique(),
            access_point_days=day_facts.count(),
            fully_estimated=day_facts.count(where=complete & (estimated == slots)),
            partly_estimated=day_facts.count(where=complete & (estimated > 0) & (estimated < slots)),
            fully_missing=day_facts.count(where=present == 0),
            partly_missing=day_facts.count(where=(present > 0) & (present < slots)),
        )
    )
    return DayAvailability(energy=energy, channel=main_channel(energy), **counts)
