"""E2-LIKE-DAY: the mean of the same wall-clock slot on the same weekday of the previous weeks.

Rule: for a missing slot of day d, the like days are d - 7, d - 14, … not earlier than d - history_days
(28 by default: the four previous same weekdays). Of those that have a current value at the same local
slot (``local_slot`` of the grid: same wall-clock time, so DST days match by local time), the most
recent four are used; the estimate is the mean of their values, rounded half away from zero to the
integer Wh (dm³). On an autumn DST like day the repeated wall-clock slot has two values; both count.
Values of several tariffs at the same start are added (they are the same interval's energy).
"""

from __future__ import annotations

from typing import Any, Final

import ibis

from kwartier.estimation.integer import round_half_away
from kwartier.schema import AP, CHANNEL, DAY, MINUTES, START, VALUE
from kwartier.validation.grid import LOCAL_SLOT, WEEKDAY

LIKE_DAYS: Final = 4

_KEYS = (AP, CHANNEL, MINUTES)


def like_day_means(missing: Any, current: Any, grid: Any, history_days: int) -> Any:
    """E2 values for the ``missing`` slots (ap, channel, minutes, day, start, local_slot, weekday) from the
    ``current`` values on like days of ``grid`` (which must hold the history days):
    ap, channel, minutes, start, value."""
    like_slots = grid.select(
        like_day=grid[DAY],
        like_start=grid[START],
        like_minutes=grid[MINUTES],
        like_local=grid[LOCAL_SLOT],
        like_weekday=grid[WEEKDAY],
    )
    oldest = missing[DAY] - ibis.interval(days=history_days)
    candidates = missing.join(
        like_slots,
        [
            missing[MINUTES] == like_slots.like_minutes,
            missing[LOCAL_SLOT] == like_slots.like_local,
            missing[WEEKDAY] == like_slots.like_weekday,
            like_slots.like_day < missing[DAY],
            like_slots.like_day >= oldest,
        ],
    ).select(*_KEYS, START, "like_day", "like_start")
    # only the values at the candidate instants, before adding up tariffs (else an engine may add up
    # the whole history first)
    wanted = candidates.select(*_KEYS, "like_start").distinct()
    history = current.select(*_KEYS, like_start=current[START], like_value=current[VALUE])
    history = history.semi_join(wanted, [*_KEYS, "like_start"])
    observed = candidates.join(history, [*_KEYS, "like_start"])
    per_slot = observed.group_by([*_KEYS, START, "like_day", "like_start"]).aggregate(
        like_value=observed.like_value.sum().cast("int64")
    )
    recent = ibis.window(group_by=[*_KEYS, START], order_by=ibis.desc("like_day"))
    ranked = per_slot.mutate(rank=ibis.dense_rank().over(recent))
    used = ranked.filter(ranked["rank"] < LIKE_DAYS)
    means = used.group_by([*_KEYS, START]).aggregate(
        total=used.like_value.sum().cast("int64"), count=used.like_value.count().cast("int64")
    )
    return means.select(*_KEYS, START, **{VALUE: round_half_away(means.total, means["count"])})
