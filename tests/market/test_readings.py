"""The remote reading at a process date from the meter-data store (``market/readings.py``): per register
the latest recorded version at 00:00 Europe/Brussels, measured only, and within what a message may carry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa

from kwartier.domain.timegrid import local_midnight_utc
from kwartier.market.messages import MAX_INDEX
from kwartier.market.readings import StoreReadings
from kwartier.schema import STORED_REGISTERS
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore
from tests.market.helpers import E1, E3

DAY = date(2026, 3, 29)  # the day the clocks go forward: midnight is still 23:00 UTC the day before
FIRST = datetime(2026, 4, 1, tzinfo=UTC)
LATER = datetime(2026, 4, 2, tzinfo=UTC)


def _batch(
    store: MeterStore, batch: str, recorded: datetime, rows: list[tuple[str, str, str, int, str]]
) -> None:
    midnight = local_midnight_utc(DAY)
    table = pa.Table.from_pylist(
        [
            {
                "ap": ap,
                "channel": channel,
                "tariff": tariff,
                "read_at": midnight,
                "index_value": value,
                "status": status,
                "batch": batch,
                "recorded_at": recorded,
            }
            for ap, channel, tariff, value, status in rows
        ],
        schema=STORED_REGISTERS,
    )
    with store.stage(batch) as staged:
        staged.write_table("registers", table)
        store.commit(staged, {})


def test_the_reading_is_the_latest_measured_version_of_each_register_within_range(tmp_path: Path) -> None:
    store = MeterStore.open(tmp_path / "store")
    pseudonyms = Pseudonymiser(b"k" * 32, "k1")
    one, three = pseudonyms.of(E1), pseudonyms.of(E3)
    _batch(
        store,
        "b1",
        FIRST,
        [
            (one, "offtake", "day", 1_000, "measured"),
            (one, "offtake", "night", 2_000, "measured"),
            (one, "injection", "day", 50, "measured"),
            (three, "offtake", "day", MAX_INDEX + 1, "measured"),  # beyond any message's index
        ],
    )
    _batch(
        store,
        "b2",
        LATER,
        [
            (one, "offtake", "day", 1_010, "measured"),  # a later version wins
            (one, "injection", "day", 60, "estimated"),  # an estimate is no remote reading
        ],
    )
    readings = StoreReadings(store, pseudonyms)
    assert readings(E1, DAY) == {"offtake/day": 1_010, "offtake/night": 2_000}
    assert readings(E3, DAY) is None
    assert readings(E1, date(2026, 3, 30)) is None
