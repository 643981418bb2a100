"""The digital meter's remote reading at a process date, from the meter-data store (seed 000 §4.5).

Rule: the handover index of a process dated D is the register reading of the access point's meter at
00:00 Europe/Brussels of D, as the store holds it now: per register (``<channel>/<tariff>``) the latest
recorded version, and only a *measured* one (an estimated or rejected index is no remote reading; the
process then waits for one and, past its deadline, asks for attention; so is a value outside the range
a message may carry, ``messages.MAX_INDEX``). The store knows the access point
only by its pseudonym, so the EAN is pseudonymised here and nowhere else in the market package.
"""

from __future__ import annotations

from datetime import date

import duckdb

from kwartier.domain.channels import ReadingStatus
from kwartier.domain.timegrid import local_midnight_utc
from kwartier.market.messages import MAX_INDEX
from kwartier.market.processes import Index
from kwartier.schema import AP, CHANNEL, INDEX_VALUE, READ_AT, RECORDED_AT, STATUS, TARIFF
from kwartier.store.layout import month_of_instant
from kwartier.store.pseudonym import Pseudonymiser, bucket_of
from kwartier.store.store import MeterStore


class StoreReadings:
    """:data:`~kwartier.market.processes.Readings` read from a meter-data store."""

    def __init__(self, store: MeterStore, pseudonymiser: Pseudonymiser) -> None:
        self.store = store
        self.pseudonymiser = pseudonymiser
        self.connection = duckdb.connect()

    def __call__(self, ean: str, day: date) -> Index | None:
        ap = self.pseudonymiser.of(ean)
        instant = local_midnight_utc(day)
        source = self.store.scan_sql(
            "registers", buckets={bucket_of(ap, self.store.buckets)}, months={month_of_instant(instant)}
        )
        rows = self.connection.execute(
            f"""
            SELECT {CHANNEL}, {TARIFF},
                arg_max({INDEX_VALUE}, {RECORDED_AT}), arg_max({STATUS}, {RECORDED_AT})
            FROM ({source}) AS stored
            WHERE {AP} = ? AND {READ_AT} = ?
            GROUP BY ALL
            """,
            [ap, instant],
        ).fetchall()
        index = {
            f"{channel}/{tariff}": int(value)
            for channel, tariff, value, status in rows
            if status == ReadingStatus.MEASURED.value and 0 <= value <= MAX_INDEX
        }
        return index or None
