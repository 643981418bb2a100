"""The real Mijn Fluvius samples through a real meter-data store and back out as Mijn Fluvius files.

Each sample is read, pseudonymised and committed to a store in a temporary directory, read back with
``MeterStore.read_access_point``, exported again and read again: the intervals and values must come back
unchanged, including the 100 quarters of 2023-10-29 and the 25 hours of its gas day. The totals of the
same stored readings are checked against a second, plain-Python calculation with the domain's day rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from kwartier.capture.mijn_fluvius import read_mijn_fluvius
from kwartier.domain.channels import Channel, Energy, ReadingStatus, energy_of
from kwartier.domain.source_status import SourceStatus
from kwartier.domain.timegrid import BRUSSELS, GAS_DAY_START, gas_day_of, market_day_of
from kwartier.exposure.export import ExportFormat, Granularity, aggregate, export_readings
from kwartier.schema import STORED_READINGS
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore
from tests.capture.samples import DUTCH_ELECTRICITY, DUTCH_GAS, ENGLISH_ELECTRICITY, ENGLISH_GAS

SAMPLES = {
    ENGLISH_ELECTRICITY: (Energy.ELECTRICITY, Granularity.QUARTER, "en"),
    ENGLISH_GAS: (Energy.GAS, Granularity.HOUR, "en"),
    DUTCH_ELECTRICITY: (Energy.ELECTRICITY, Granularity.QUARTER, "nl"),  # holds estimates
    DUTCH_GAS: (Energy.GAS, Granularity.HOUR, "nl"),  # holds estimates
}
COMPARED = ["channel", "tariff", "start", "minutes", "value"]
ORDER = [("channel", "ascending"), ("tariff", "ascending"), ("start", "ascending")]
RECORDED_AT = datetime(2025, 5, 1, 12, tzinfo=UTC)
# what the store makes of a source status, and what the export makes of the stored status
STORED_STATUS = {
    SourceStatus.READ: ReadingStatus.MEASURED,
    SourceStatus.VALIDATED: ReadingStatus.MEASURED,
    SourceStatus.ESTIMATED: ReadingStatus.ESTIMATED,
}
EXPORTED_STATUS = {
    ReadingStatus.MEASURED: SourceStatus.VALIDATED,
    ReadingStatus.ESTIMATED: SourceStatus.ESTIMATED,
}


@dataclass(frozen=True)
class Stored:
    """A sample as read from its file, and its readings as read back from the store."""

    captured: pa.Table
    stored: pa.Table
    ean: str
    meter: str


def _to_store(captured: pa.Table, store: MeterStore, ap: str, batch: str) -> None:
    n = captured.num_rows
    statuses = [STORED_STATUS[SourceStatus(s)].value for s in captured["source_status"].to_pylist()]
    rows = pa.table(
        {
            "ap": [ap] * n,
            "channel": captured["channel"],
            "tariff": captured["tariff"],
            "start": captured["start"],
            "minutes": captured["minutes"],
            "value": captured["value"],
            "status": statuses,
            "rule": pa.nulls(n, pa.string()),
            "method": pa.nulls(n, pa.string()),
            "batch": [batch] * n,
            "recorded_at": pa.array([RECORDED_AT] * n, pa.timestamp("us", tz="UTC")),
        },
        schema=STORED_READINGS,
    )
    staged = store.stage(batch)
    staged.write_table("readings", rows)
    store.commit(staged, {"source": "mijn-fluvius sample"})


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> dict[str, Stored]:
    """Every sample committed as one batch to one store, and read back per access point."""
    root = tmp_path_factory.mktemp("export-round-trip")
    pseudonymiser = Pseudonymiser.from_key_file(root / "secret" / "pseudonym.key")
    store = MeterStore(root / "store")
    result = {}
    for number, name in enumerate(SAMPLES):
        captured = read_mijn_fluvius(samples_dir / "mijn-fluvius" / name)
        assert captured.rejections == []
        readings = captured.readings
        [ean] = pc.unique(readings["ean"]).to_pylist()
        [meter] = pc.unique(readings["meter"]).to_pylist()
        # the two English samples share their anonymised EAN: keep them apart by energy
        ap = pseudonymiser.of(f"{ean}-{SAMPLES[name][0]}")
        _to_store(readings, store, ap, f"sample-{number}")
        first = pc.min(readings["start"]).as_py()
        last = pc.max(readings["start"]).as_py()
        back = store.read_access_point(ap, first, last + timedelta(hours=1))
        result[name] = Stored(readings, back, ean, meter)
    return result


@pytest.mark.parametrize("name", list(SAMPLES))
def test_store_then_mijn_fluvius_export_gives_the_same_intervals(
    name: str, stored: dict[str, Stored], tmp_path: Path
) -> None:
    energy, granularity, language = SAMPLES[name]
    sample = stored[name]
    assert sample.stored.num_rows == sample.captured.num_rows
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        written = export_readings(
            sample.stored,
            ean=sample.ean,
            meter=sample.meter,
            energy=energy,
            granularity=granularity,
            fmt=ExportFormat.MIJN_FLUVIUS,
            out=out,
            language=language,
        )
    again = read_mijn_fluvius(path)
    assert again.rejections == []
    assert written == again.readings.num_rows == sample.captured.num_rows
    assert pc.unique(again.readings["ean"]).to_pylist() == [sample.ean]
    assert pc.unique(again.readings["meter"]).to_pylist() == [sample.meter]
    original = sample.captured.sort_by(ORDER)
    exported = again.readings.sort_by(ORDER)
    assert exported.select(COMPARED).equals(original.select(COMPARED))
    expected_status = [
        EXPORTED_STATUS[STORED_STATUS[SourceStatus(s)]].value for s in original["source_status"].to_pylist()
    ]
    assert exported["source_status"].to_pylist() == expected_status


def _starts_on(table: pa.Table, channel: Channel, day_of: Callable[[datetime], date], day: date) -> int:
    starts = table.filter(pc.equal(table["channel"], channel.value))["start"].to_pylist()
    return len({s for s in starts if day_of(s) == day})


def test_the_autumn_dst_day_keeps_its_100_quarters_and_its_gas_day_25_hours(
    stored: dict[str, Stored], tmp_path: Path
) -> None:
    electricity, gas = stored[ENGLISH_ELECTRICITY], stored[ENGLISH_GAS]
    autumn = date(2023, 10, 29)
    assert _starts_on(electricity.captured, Channel.OFFTAKE, market_day_of, autumn) == 100
    assert _starts_on(electricity.stored, Channel.OFFTAKE, market_day_of, autumn) == 100
    assert _starts_on(gas.stored, Channel.GAS_VOLUME, gas_day_of, date(2023, 10, 28)) == 25
    day = aggregate(electricity.stored, Granularity.DAY)
    on_autumn_day = day.filter(pc.equal(day["start"], pa.scalar(datetime(2023, 10, 28, 22, tzinfo=UTC))))
    assert sorted(on_autumn_day["quarters"].to_pylist()) == [100, 100]  # offtake and injection, night
    hours = aggregate(electricity.stored, Granularity.HOUR)
    offtake = hours.filter(pc.equal(hours["channel"], "offtake"))
    autumn_hours = [s for s in offtake["start"].to_pylist() if s.astimezone(BRUSSELS).date() == autumn]
    assert len(autumn_hours) == 25


def _second_method(
    readings: pa.Table, granularity: Granularity
) -> dict[tuple[str, str, date], tuple[int, int]]:
    """(channel, tariff, first day of the period) → (sum, count), with the domain's day rules in Python."""
    sums: dict[tuple[str, str, date], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for row in readings.to_pylist():
        channel = Channel(row["channel"])
        day = gas_day_of(row["start"]) if energy_of(channel) is Energy.GAS else market_day_of(row["start"])
        if granularity is Granularity.MONTH:
            day = day.replace(day=1)
        key = (row["channel"], row["tariff"], day)
        total, count = sums[key]
        sums[key] = (total + row["value"], count + 1)
    return dict(sums)


@pytest.mark.parametrize("name", list(SAMPLES))
@pytest.mark.parametrize("granularity", [Granularity.DAY, Granularity.MONTH])
def test_day_and_month_totals_agree_with_a_second_method(
    name: str, granularity: Granularity, stored: dict[str, Stored]
) -> None:
    readings = stored[name].stored
    totals = aggregate(readings, granularity)
    energy = SAMPLES[name][0]
    opening = GAS_DAY_START if energy is Energy.GAS else time(0, 0)
    found = {}
    for row in totals.to_pylist():
        local = row["start"].astimezone(BRUSSELS)
        assert local.time() == opening  # periods open at 00:00, or 06:00 for gas
        found[row["channel"], row["tariff"], local.date()] = (row["value"], row["quarters"])
    assert found == _second_method(readings, granularity)
    # conservation: what goes in comes out
    assert pc.sum(totals["value"]).as_py() == pc.sum(readings["value"]).as_py()
    assert pc.sum(totals["estimated"]).as_py() == pc.sum(pc.equal(readings["status"], "estimated")).as_py()
