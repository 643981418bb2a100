"""E1-INTERPOLATION: linear interpolation over a short gap.

Rule: a gap is a run of consecutive slots of an access point and channel without a current value. When
it holds at most :data:`MAX_GAP_SLOTS` slots (8 quarter hours = 2 h for electricity, 2 hours for gas) and
there is a current value right before it (``before``, at slot position 0) and right after it (``after``,
at position n + 1 for a gap of n slots), possibly on the previous or the next day, the slot at position
k gets (before × (n + 1 - k) + after × k) / (n + 1), the straight line between the neighbours, rounded
half away from zero to the integer Wh (dm³).
Example: 100, _, _, 130 → 110, 120.
"""

from __future__ import annotations

from typing import Any, Final

import ibis

from kwartier.domain.timegrid import HOUR_MINUTES, QUARTER_MINUTES
from kwartier.estimation.integer import exact_quotient, round_half_away
from kwartier.schema import AP, CHANNEL, MINUTES, START, VALUE
from kwartier.validation.day_rules import EPOCH, STEP

MAX_GAP_SLOTS: Final = {QUARTER_MINUTES: 8, HOUR_MINUTES: 2}

_KEYS = (AP, CHANNEL, MINUTES)


def max_gap_slots(minutes: Any) -> Any:
    """Longest gap (in slots) E1 fills, for a column of resolutions in minutes."""
    return ibis.cases(*((minutes == m, n) for m, n in MAX_GAP_SLOTS.items()), else_=0)


def interpolate(missing: Any, values: Any) -> Any:
    """E1 values for the ``missing`` slots (ap, channel, minutes, start, epoch_s) that sit in a short gap
    between two of ``values`` (ap, channel, minutes, epoch_s, step_s, value; one row per interval and
    covering at least the slots around the missing ones): ap, channel, minutes, start, value.

    Each value is paired with the next one of its series (``lead``); a pair more than one step apart
    encloses a gap, and only the short gaps are joined to the missing slots inside them, so the work
    grows with the number of gaps, not with the length of the series.
    """
    known = values.semi_join(missing.select(*_KEYS).distinct(), list(_KEYS))
    following = ibis.window(group_by=list(_KEYS), order_by=EPOCH)
    pairs = known.select(
        *_KEYS,
        STEP,
        before_s=known[EPOCH],
        before_value=known[VALUE],
        after_s=known[EPOCH].lead().over(following),
        after_value=known[VALUE].lead().over(following),
    )
    pairs = pairs.filter(pairs.after_s.notnull())
    spans = pairs.mutate(span=exact_quotient(pairs.after_s - pairs.before_s, pairs[STEP]))
    gaps = spans.filter(spans.span >= 2, spans.span - 1 <= max_gap_slots(spans[MINUTES])).drop(STEP)
    inside = missing.join(gaps, [*_KEYS, missing[EPOCH] > gaps.before_s, missing[EPOCH] < gaps.after_s])
    position = exact_quotient(inside[EPOCH] - inside.before_s, inside[STEP])
    weighted = inside.before_value * (inside.span - position) + inside.after_value * position
    return inside.select(*_KEYS, START, **{VALUE: round_half_away(weighted, inside.span)})
