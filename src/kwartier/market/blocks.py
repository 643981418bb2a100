"""The figures the regulator follows on blocked access points (seed 000 §4.2.4), pure.

Rules (the seeds leave the exact counting open; docs/market.md):
- an access point is *blocked* while one of its processes is in ``needs_attention``: the processing
  failed and the market cannot go on without the DSO (the lock of seed 000 §4.2.1 that could not be
  lifted). A reservation waiting within its deadline is no block;
- day 1 of a block is the market day (Europe/Brussels) it began; an open block counts up to and
  including today, a resolved one up to the day before it was resolved;
- blocked longer than 10 days: an open block of more than 10 days; longer than 6 months: open and begun
  more than 6 calendar months before today;
- monthly inflow after 3 months: the blocks (open or resolved) that reached 3 months of age, counted in
  the month they reached it (as in figure 6 of seed 000);
- compensation: €1.50 per access point per day from day 180 of a block, open or already resolved, up to
  the day the data are delivered (seed 000 §4.2.3), in euro cents.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from kwartier.market.codes import (
    COMPENSATION_CENTS_PER_DAY,
    COMPENSATION_FROM_DAY,
    INFLOW_BLOCK_MONTHS,
    LOCK_PERIOD_DAYS,
    LONG_BLOCK_MONTHS,
)
from kwartier.market.register import market_day

Period = tuple[str, str, datetime, datetime | None]
"""(process id, EAN, blocked since, resolved at or None)."""


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months (the last day of a shorter month when needed)."""
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def blocked_days(since: datetime, until: datetime | None, now: datetime) -> int:
    """Days of a block by the rule of the module docstring."""
    first = market_day(since)
    if until is None:
        return (market_day(now) - first).days + 1
    return (market_day(until) - first).days


def compensation_cents(days: int) -> int:
    """Compensation owed for a block of ``days`` days: €1.50 per day from day 180 on, in cents."""
    return max(0, days - COMPENSATION_FROM_DAY + 1) * COMPENSATION_CENTS_PER_DAY


def blocked_report(periods: Iterable[Period], now: datetime) -> dict[str, Any]:
    """The blocked-access-point figures at ``now`` from every period spent in ``needs_attention``."""
    today = market_day(now)
    periods = [p for p in periods if p[2] <= now]
    open_blocks = [p for p in periods if p[3] is None or p[3] > now]
    over_lock = {ean for _, ean, since, _ in open_blocks if blocked_days(since, None, now) > LOCK_PERIOD_DAYS}
    over_long = {
        ean for _, ean, since, _ in open_blocks if market_day(since) < add_months(today, -LONG_BLOCK_MONTHS)
    }
    inflow: Counter[str] = Counter()
    owed: dict[str, dict[str, int]] = {}
    for _, ean, since, until in periods:
        resolved = until if until is not None and until <= now else None
        reached = add_months(market_day(since), INFLOW_BLOCK_MONTHS)
        if reached <= today and (resolved is None or market_day(resolved) > reached):
            inflow[reached.strftime("%Y-%m")] += 1
        days = blocked_days(since, resolved, now)
        cents = compensation_cents(days)
        if cents:
            entry = owed.setdefault(ean, {"days": 0, "cents": 0})
            entry["days"] = max(entry["days"], days)
            entry["cents"] += cents
    return {
        "at": now.isoformat(),
        "blocked": len({ean for _, ean, _, _ in open_blocks}),
        "blocked_over_10_days": len(over_lock),
        "blocked_over_6_months": len(over_long),
        "inflow_after_3_months": dict(sorted(inflow.items())),
        "compensation": [
            {"ean": ean, "days": entry["days"], "euro": entry["cents"] / 100}
            for ean, entry in sorted(owed.items())
        ],
        "compensation_total_euro": sum(entry["cents"] for entry in owed.values()) / 100,
    }
