"""E3-PROFILE: the median over all access points at the same instant, a profile derived from the data.

Rule: for a missing slot with neither E1 nor E2, the estimate is the median of the current values of
the same channel and resolution at the same start over all access points that have one (values of
several tariffs of one access point at one start are added first). With an even number of values the
median is the mean of the two middle ones, rounded half away from zero to the integer Wh (dm³); it is
computed with window functions, so both engines give the same integer.
Exception: an access point without any current injection value in the ``history_days`` days before the
day is assumed not to inject: its missing injection slots are 0.
A slot for which no access point has a value (and that is not such an injection slot) gets no estimate.
"""

from __future__ import annotations

from typing import Any

import ibis

from kwartier.domain.channels import Channel
from kwartier.estimation.integer import round_half_away
from kwartier.schema import AP, CHANNEL, DAY, MINUTES, START, VALUE
from kwartier.validation.day_rules import values_in_days

_KEYS = (AP, CHANNEL, MINUTES)
_INSTANT = (CHANNEL, MINUTES, START)


def medians_at(instants: Any, current: Any) -> Any:
    """The median current value per (channel, minutes, start) of ``instants``: channel, minutes, start,
    value."""
    at = current.semi_join(instants, list(_INSTANT))
    per_ap = at.group_by([AP, *_INSTANT]).aggregate(**{VALUE: at[VALUE].sum().cast("int64")})
    ordered = ibis.window(group_by=list(_INSTANT), order_by=[VALUE, AP])
    everyone = ibis.window(group_by=list(_INSTANT))
    ranked = per_ap.mutate(
        position=(ibis.row_number().over(ordered) + 1).cast("int64"),
        count=per_ap[VALUE].count().over(everyone).cast("int64"),
    )
    # 1-based positions (n + 1) // 2 and n // 2 + 1: the middle one, or the two middle ones
    middle = ranked.filter(ranked.position * 2 >= ranked["count"], ranked.position * 2 <= ranked["count"] + 2)
    halves = middle.group_by(list(_INSTANT)).aggregate(
        total=middle[VALUE].sum().cast("int64"), count=middle[VALUE].count().cast("int64")
    )
    return halves.select(*_INSTANT, **{VALUE: round_half_away(halves.total, halves["count"])})


def profile_values(missing: Any, current: Any, grid: Any, history_days: int) -> Any:
    """E3 values for the ``missing`` slots (ap, channel, minutes, day, start): ap, channel, minutes, start,
    value. The medians are taken only at the instants of ``missing``."""
    silent = _silent_injection_days(missing, current, grid, history_days).mutate(silent=ibis.literal(True))
    medians = medians_at(missing.select(*_INSTANT).distinct(), current).rename(median=VALUE)
    # by name: the left-hand keys keep their names (``silent`` descends from ``missing``)
    flagged = missing.left_join(silent, [*_KEYS, DAY]).select(*_KEYS, DAY, START, "silent")
    joined = flagged.left_join(medians, list(_INSTANT)).select(*_KEYS, START, "silent", "median")
    value = ibis.ifelse(joined.silent.notnull(), ibis.literal(0, "int64"), joined.median)
    profiled = joined.select(*_KEYS, START, **{VALUE: value})
    return profiled.filter(profiled[VALUE].notnull())


def _silent_injection_days(missing: Any, current: Any, grid: Any, history_days: int) -> Any:
    """(ap, channel, minutes, day) of the injection days of ``missing`` whose access point has no current
    injection value in the ``history_days`` days before the day."""
    injection = missing.filter(missing[CHANNEL] == Channel.INJECTION.value)
    target_days = injection.select(*_KEYS, DAY).distinct()
    past = values_in_days(current.semi_join(target_days, list(_KEYS)), grid).select(*_KEYS, past_day=DAY)
    injecting = target_days.semi_join(
        past,
        [
            *_KEYS,
            past.past_day < target_days[DAY],
            past.past_day >= target_days[DAY] - ibis.interval(days=history_days),
        ],
    )
    return target_days.anti_join(injecting, [*_KEYS, DAY])
