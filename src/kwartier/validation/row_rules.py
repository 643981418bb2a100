"""Rules on each captured interval value, written once in Ibis (DuckDB in-process, PySpark at scale).

Input: captured values already keyed by pseudonym (columns ap, channel, tariff, start, minutes, value,
source_status) and the registry facts per access point (ap, capacity, has_production). Output: one row per
distinct key (ap, channel, tariff, start, minutes) and value, with ``status``, ``rule`` and ``method``:

- exact duplicates inside a batch are kept once (the batch report counts them); when copies of one value
  differ only in source status, the strongest counts (validated over read over estimated);
- ``V06-CONFLICTING-DUPLICATE``: the same interval delivered twice in one batch with different values:
  both are rejected, since neither can be trusted (the interval is then estimated);
- ``V02-NEGATIVE``: a negative quantity is rejected (offtake, injection and gas are separate registers, so
  none of them runs backwards);
- ``V03-ABOVE-MAXIMUM``: more than the connection can carry is rejected: capacity [kVA] × 1000 × minutes /
  60 Wh for electricity (power factor 1, the most a connection can deliver in the interval), capacity
  [m³/h] × 1000 × minutes / 60 dm³ for gas volume and that volume × 12 kWh/m³ for gas energy (above the
  highest upper calorific value of Belgian H-gas, about 11.6 kWh/m³);
- ``V04-INJECTION-WITHOUT-PRODUCTION``: injection at an access point with no registered production
  installation is kept (it was measured) but flagged for the registry team (seed 000 §4.3: installations
  reach the registry late);
- a value the source itself marks estimated is stored as an estimate with method ``S0-SOURCE``.
Access points the registry does not know (customer exports) have no capacity: V03 and V04 do not apply.
"""

from __future__ import annotations

from typing import Any

import ibis

from kwartier.domain.channels import Channel, ReadingStatus
from kwartier.domain.source_status import SourceStatus

KEY = ["ap", "channel", "tariff", "start", "minutes"]
NEGATIVE = "V02-NEGATIVE"
ABOVE_MAXIMUM = "V03-ABOVE-MAXIMUM"
INJECTION_WITHOUT_PRODUCTION = "V04-INJECTION-WITHOUT-PRODUCTION"
CONFLICTING_DUPLICATE = "V06-CONFLICTING-DUPLICATE"
SOURCE_ESTIMATE = "S0-SOURCE"
GAS_KWH_PER_M3_CEILING = 12
REJECTING = (NEGATIVE, ABOVE_MAXIMUM, CONFLICTING_DUPLICATE)
RULES = (*REJECTING, INJECTION_WITHOUT_PRODUCTION)


def maximum_per_interval(channel: Any, capacity: Any, minutes: Any) -> Any:
    """Ibis: the most an interval can hold: Wh for electricity and gas energy, dm³ for gas volume."""
    per_interval = capacity * 1000 * minutes / 60
    return ibis.cases(
        (channel == Channel.GAS_ENERGY.value, per_interval * GAS_KWH_PER_M3_CEILING),
        else_=per_interval,
    )


def apply_row_rules(captured: Any, context: Any) -> Any:
    """Ibis table of validated rows (columns of ``KEY`` + value, status, rule, method); see module doc."""
    grouped = captured.group_by(KEY).agg(
        low=captured.value.min(), high=captured.value.max(), source_status=captured.source_status.max()
    )
    agreed = grouped.filter(grouped.low == grouped.high).select(
        *KEY, value=grouped.low, source_status=grouped.source_status, conflict=ibis.literal(False)
    )
    disputed = grouped.filter(grouped.low != grouped.high).select(*KEY)
    conflicting = captured.semi_join(disputed, KEY)
    conflicts = (
        conflicting.group_by([*KEY, "value"])
        .agg(source_status=conflicting.source_status.max())
        .mutate(conflict=ibis.literal(True))
    )
    versions = agreed.union(conflicts)
    facts = context.select("ap", "capacity", "has_production")
    joined = versions.left_join(facts, versions.ap == facts.ap).select(
        versions, facts.capacity, facts.has_production
    )
    maximum = maximum_per_interval(joined.channel, joined.capacity, joined.minutes)
    rule = ibis.cases(
        (joined.conflict, CONFLICTING_DUPLICATE),
        (joined.value < 0, NEGATIVE),
        (joined.capacity.notnull() & (joined.value > maximum), ABOVE_MAXIMUM),
        (
            (joined.channel == Channel.INJECTION.value)
            & (joined.value > 0)
            & (joined.has_production == False),  # noqa: E712 - Ibis column comparison
            INJECTION_WITHOUT_PRODUCTION,
        ),
        else_=ibis.null(str),
    )
    flagged = joined.mutate(rule=rule)
    status = ibis.cases(
        (flagged.rule.isin(REJECTING), ReadingStatus.REJECTED.value),
        (flagged.source_status == SourceStatus.ESTIMATED.value, ReadingStatus.ESTIMATED.value),
        else_=ReadingStatus.MEASURED.value,
    )
    method = ibis.cases(
        (status == ReadingStatus.ESTIMATED.value, SOURCE_ESTIMATE),
        else_=ibis.null(str),
    )
    return flagged.select(*KEY, "value", status=status, rule=flagged.rule, method=method)
