"""Estimation: a value for every expected interval that has no current value, with the method that made it.

``estimate(current, expected, grid, registers, history_days)`` takes Ibis tables (DuckDB or PySpark):

- ``current``: current readings (ap, channel, tariff, start, minutes, value), the target days and the
  ``history_days`` before them;
- ``expected``: (ap, channel, minutes, day) for which a complete day is expected;
- ``grid``: :func:`kwartier.validation.grid.slot_grid` of the target days and the ``history_days``
  before them (:func:`estimation_days` lists them), both resolutions may be stacked;
- ``registers``: optional (ap, channel, tariff, read_at, index_value) at the starts of days.

It returns one row per expected slot without a current value (ap, channel, tariff, start, minutes, value,
method), never one for a slot that has a value. The methods, tried in order, are described in
:mod:`kwartier.estimation.methods`: E1-INTERPOLATION (:mod:`~kwartier.estimation.interpolation`),
E2-LIKE-DAY (:mod:`~kwartier.estimation.like_day`), E3-PROFILE (:mod:`~kwartier.estimation.profile`),
then the scaling to the register index (:mod:`~kwartier.estimation.index_scaling`). The tariff of an
estimate is that of its slot in the grid. A slot that no method can fill (no access point has a value
at that instant) gets no row; V01-COMPLETENESS still reports the gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Final

import ibis

from kwartier.estimation.index_scaling import scale_to_index
from kwartier.estimation.interpolation import MAX_GAP_SLOTS, interpolate, max_gap_slots
from kwartier.estimation.like_day import like_day_means
from kwartier.estimation.methods import EstimationMethod
from kwartier.estimation.profile import profile_values
from kwartier.schema import AP, CHANNEL, DAY, METHOD, MINUTES, START, TARIFF, VALUE
from kwartier.validation.day_rules import EPOCH, STEP, with_epoch

HISTORY_DAYS: Final = 28

_KEYS = (AP, CHANNEL, MINUTES)
_WIDEST_REACH_MINUTES: Final = max((slots + 1) * minutes for minutes, slots in MAX_GAP_SLOTS.items())
_SLOT = (AP, CHANNEL, MINUTES, START)


def estimation_days(days: Sequence[date], history_days: int = HISTORY_DAYS) -> list[date]:
    """Every day the grid of :func:`estimate` must hold: from ``history_days`` before the first of
    ``days`` up to the last of them."""
    first = min(days) - timedelta(days=history_days)
    return [first + timedelta(days=offset) for offset in range((max(days) - first).days + 1)]


def estimate(
    current: Any, expected: Any, grid: Any, registers: Any = None, history_days: int = HISTORY_DAYS
) -> Any:
    """Estimates for the expected slots without a current value: ap, channel, tariff, start, minutes,
    value (int64, Wh or dm³), method.

    Every method proposes values for all missing slots independently, each proposal ranked by the order
    of the methods; the best-ranked proposal of a slot wins. This gives what trying the methods one
    after the other gives (no proposal depends on which other slots are still open) and keeps the
    expression a shallow tree instead of a chain of anti-joins that each repeat the work before them.
    The current values near the target days and the missing slots, which every method reads, are
    materialised on the backend (Ibis ``cache``: a temporary table on DuckDB, a cached DataFrame on
    Spark) when this function is called, and released with the returned expression.
    """
    targets = expected.select(*_KEYS, DAY).distinct()
    slots = with_epoch(targets.join(grid, [MINUTES, DAY]))
    near = _values_near(current, slots).cache()
    values = near.group_by([*_SLOT, EPOCH, STEP]).aggregate(**{VALUE: near[VALUE].sum().cast("int64")})
    missing = slots.anti_join(values, list(_SLOT)).cache()

    proposals = [
        (EstimationMethod.INTERPOLATION, interpolate(missing, values)),
        (EstimationMethod.LIKE_DAY, like_day_means(missing, current, grid, history_days)),
        (EstimationMethod.PROFILE, profile_values(missing, current, grid, history_days)),
    ]
    ranked = ibis.union(
        *(
            found.select(*_SLOT, VALUE, rank=ibis.literal(order), **{METHOD: ibis.literal(method.value)})
            for order, (method, found) in enumerate(proposals)
        )
    )
    best = ranked.mutate(choice=ibis.row_number().over(ibis.window(group_by=list(_SLOT), order_by="rank")))
    best = best.filter(best.choice == 0)
    estimates = missing.join(best, list(_SLOT)).select(
        AP, CHANNEL, TARIFF, MINUTES, DAY, START, VALUE, METHOD
    )
    if registers is not None:
        estimates = scale_to_index(estimates, near, registers, grid)
    return estimates.select(
        AP,
        CHANNEL,
        TARIFF,
        START,
        **{
            MINUTES: estimates[MINUTES].cast("int16"),
            VALUE: estimates[VALUE].cast("int64"),
            METHOD: estimates[METHOD].cast("string"),
        },
    )


def _values_near(current: Any, slots: Any) -> Any:
    """Current values of the expected (ap, channel, minutes) on the target slots and within reach of an
    E1 neighbour (the longest gap + 1 slots before the first and after the last target slot).

    The history is first cut on the raw start with the widest reach of any resolution, so that the
    exact bounds in seconds are computed for the rows near the target days only."""
    reach = slots.group_by(MINUTES).aggregate(
        low=slots[START].min(),
        high=slots[START].max(),
        low_s=slots[EPOCH].min(),
        high_s=slots[EPOCH].max(),
        step=slots[STEP].max(),
    )
    reach = reach.mutate(margin=(max_gap_slots(reach[MINUTES]) + 1).cast("int64") * reach.step)
    candidates = current.semi_join(slots.select(*_KEYS).distinct(), list(_KEYS)).join(reach, MINUTES)
    widest = ibis.interval(minutes=_WIDEST_REACH_MINUTES)
    candidates = candidates.filter(
        candidates[START] >= candidates.low - widest, candidates[START] <= candidates.high + widest
    )
    inside = with_epoch(candidates)
    inside = inside.filter(
        inside[EPOCH] >= inside.low_s - inside.margin, inside[EPOCH] <= inside.high_s + inside.margin
    )
    return inside.select(AP, CHANNEL, TARIFF, MINUTES, START, VALUE, EPOCH, STEP)
