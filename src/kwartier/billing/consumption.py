"""Consumption information: offtake and injection per tariff period per day and per month, and the net
metering of legacy prosumers.

Rules:
- seed 001 art. 31, 10°/1: a customer with a digital meter gets accurate monthly consumption information;
  the same monthly totals per tariff period are the volumes a supplier invoices for measurement regime 1
  (for regime 3 it invoices the quarter hours themselves, ``kwartier export``);
- a day is the local market day (Europe/Brussels), a month the local calendar month; each quarter hour
  counts in the tariff period it was registered under (day / night / exclusive night);
- totals are integer Wh; ``quarters`` counts the quarter hours summed and ``estimated_quarters`` those
  with an estimated value, so that a total resting on estimates is visible;
- **net metering** ("terugdraaiende teller", seed 003, seed 001 art. 34): for an eligible prosumer, over a
  settlement period and per tariff period, the billed offtake is max(offtake − injection, 0) and no
  injection is compensated; only the part of the period before the cut-off date (the publication of the
  Constitutional Court's judgment) is netted, the part from the cut-off on is billed gross.

Written once in Ibis; DuckDB and PySpark give the same totals.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

import ibis
import ibis.expr.types as ir

from kwartier.billing.capacity import ESTIMATED_QUARTERS, MONTH_INDEX, QUARTERS
from kwartier.domain.channels import Channel, ReadingStatus
from kwartier.engine import load
from kwartier.schema import CHANNEL, DAY, MINUTES, START, STATUS, TARIFF, VALUE
from kwartier.validation.grid import slot_grid

ENERGY_WH: Final = "energy_wh"
OFFTAKE_WH: Final = "offtake_wh"
INJECTION_WH: Final = "injection_wh"
NET_OFFTAKE_WH: Final = "net_offtake_wh"
ELECTRICITY_CHANNELS: Final = (Channel.OFFTAKE.value, Channel.INJECTION.value)


def daily_consumption(backend: Any, readings: ir.Table, key: str, days: list[date]) -> ir.Table:
    """Offtake and injection per ``key``, market day, channel and tariff period over ``days``.

    ``readings``: ``key``, channel, tariff, start, minutes, value [Wh], status. Result columns: ``key``,
    ``day``, ``channel``, ``tariff``, ``energy_wh``, ``quarters``, ``estimated_quarters``.
    """
    grid = load(backend, slot_grid(days, 15).select([DAY, START]))
    quarters = readings.filter(readings[CHANNEL].isin(ELECTRICITY_CHANNELS), readings[MINUTES] == 15)
    placed = quarters.join(grid, quarters[START] == grid[START])
    return placed.group_by(key, DAY, CHANNEL, TARIFF).aggregate(
        **{
            ENERGY_WH: placed[VALUE].sum(),
            QUARTERS: placed[VALUE].count(),
            ESTIMATED_QUARTERS: (placed[STATUS] == ReadingStatus.ESTIMATED.value).cast("int64").sum(),
        }
    )


def monthly_consumption(daily: ir.Table, key: str) -> ir.Table:
    """The daily totals of :func:`daily_consumption` summed per local calendar month (``month_index``)."""
    month = (daily[DAY].year() * 12 + daily[DAY].month() - 1).cast("int64")
    return (
        daily.mutate(month.name(MONTH_INDEX))
        .group_by(key, MONTH_INDEX, CHANNEL, TARIFF)
        .aggregate(
            **{
                ENERGY_WH: ibis._[ENERGY_WH].sum(),
                QUARTERS: ibis._[QUARTERS].sum(),
                ESTIMATED_QUARTERS: ibis._[ESTIMATED_QUARTERS].sum(),
            }
        )
    )


def net_metering(daily: ir.Table, key: str, cutoff: date) -> ir.Table:
    """Settlement of the days in ``daily`` per ``key`` and tariff period under net metering.

    Days before ``cutoff`` are netted: ``net_offtake_wh`` = max(offtake − injection, 0) over all of them;
    days from ``cutoff`` on add their gross offtake. Result columns: ``key``, ``tariff``, ``offtake_wh``
    and ``injection_wh`` (gross, whole period), ``net_offtake_wh`` (billed offtake), and
    ``netted_injection_wh`` (injection deducted, hence not compensated).
    """
    before = daily[DAY] < cutoff
    offtake = daily[CHANNEL] == Channel.OFFTAKE.value
    energy = daily[ENERGY_WH]
    sums = daily.group_by(key, TARIFF).aggregate(
        **{
            OFFTAKE_WH: ibis.ifelse(offtake, energy, 0).sum(),
            INJECTION_WH: ibis.ifelse(offtake, 0, energy).sum(),
        },
        offtake_before=ibis.ifelse(offtake & before, energy, 0).sum(),
        injection_before=ibis.ifelse(~offtake & before, energy, 0).sum(),
    )
    netted = ibis.least(sums.offtake_before, sums.injection_before)
    return sums.select(
        sums[key],
        sums[TARIFF],
        sums[OFFTAKE_WH],
        sums[INJECTION_WH],
        (sums[OFFTAKE_WH] - netted).cast("int64").name(NET_OFFTAKE_WH),
        netted.cast("int64").name("netted_injection_wh"),
    )
