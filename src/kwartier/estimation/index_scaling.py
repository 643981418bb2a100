"""Scaling estimates to the register index (method suffix ``+INDEX``).

Rule: when the index of a register (ap, channel, tariff) is known at the start and at the end of a day,
the day's values of that tariff must add up to its increase, the delta. The estimates of that day and
tariff are then scaled so that measured + estimated = delta exactly, provided delta ≥ the measured sum
(otherwise the index contradicts the measurements, V05 reports it, and the estimates stay as they are).
The remainder R = delta - measured is shared out in proportion to the estimates (negative estimates
count as 0; when all are 0, evenly) with the largest-remainder method in integer Wh (dm³):
each slot gets floor(R × w / W), and the Wh still missing go one each to the slots with the largest
remainder of that division, the earliest start first on a tie.
"""

from __future__ import annotations

from typing import Any

import ibis

from kwartier.estimation.integer import exact_quotient
from kwartier.estimation.methods import INDEX_SUFFIX
from kwartier.schema import AP, CHANNEL, DAY, METHOD, MINUTES, START, TARIFF, VALUE
from kwartier.validation.day_rules import DELTA, TOTAL, index_deltas, tariff_day_sums

_GROUP = (AP, CHANNEL, TARIFF, MINUTES, DAY)
_COLUMNS = (AP, CHANNEL, TARIFF, MINUTES, DAY, START, VALUE, METHOD)


def scale_to_index(estimates: Any, current: Any, registers: Any, grid: Any) -> Any:
    """``estimates`` (ap, channel, tariff, minutes, day, start, value, method) with the value and method
    of every estimate in a day and tariff that has a usable index delta scaled as the module states.

    ``current`` needs only hold the current values of the days of ``estimates``. Every estimate is
    joined once to the remainder of its group (null when the group has no usable delta) and scaled with
    window functions over its group, so the estimates are read once."""
    deltas = index_deltas(registers, grid)
    sums = tariff_day_sums(current, grid)
    measured = sums.select(*_GROUP, measured=sums[TOTAL])
    groups = deltas.left_join(measured, list(_GROUP)).select(
        *(deltas[column] for column in _GROUP),
        remainder=(deltas[DELTA] - measured.measured.fill_null(0)).cast("int64"),
    )
    usable = groups.filter(groups.remainder >= 0)
    target = estimates.left_join(usable, list(_GROUP)).select(*_COLUMNS, "remainder")
    group = ibis.window(group_by=list(_GROUP))
    weighted = target.mutate(weight=ibis.greatest(target[VALUE], 0).cast("int64"))
    weighted = weighted.mutate(
        weights=weighted.weight.sum().over(group).cast("int64"), slots=weighted.weight.count().over(group)
    )
    even = weighted.weights == 0
    weighted = weighted.mutate(
        weight=ibis.ifelse(even, 1, weighted.weight).cast("int64"),
        weights=ibis.ifelse(even, weighted.slots, weighted.weights).cast("int64"),
    )
    share = weighted.remainder * weighted.weight
    floored = weighted.mutate(base=exact_quotient(share, weighted.weights))
    floored = floored.mutate(left=floored.remainder * floored.weight - floored.base * floored.weights)
    floored = floored.mutate(leftover=floored.remainder - floored.base.sum().over(group))
    by_left = ibis.window(group_by=list(_GROUP), order_by=[ibis.desc("left"), START])
    ordered = floored.mutate(order=ibis.row_number().over(by_left))
    scaled = ordered.remainder.notnull()
    return ordered.select(
        *_COLUMNS[:-2],
        **{
            VALUE: ibis.ifelse(
                scaled, ordered.base + ibis.ifelse(ordered.order < ordered.leftover, 1, 0), ordered[VALUE]
            ).cast("int64"),
            METHOD: ibis.ifelse(scaled, ordered[METHOD] + INDEX_SUFFIX, ordered[METHOD]),
        },
    )
