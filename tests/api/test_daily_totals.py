"""Kept daily totals equal the live sums of the quarter hours (a second method), are used only at the
store's current data version, and come back after a refresh."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
from typer.testing import CliRunner

from kwartier.cli import app as cli
from kwartier.domain.channels import Energy
from kwartier.exposure import meter_data
from kwartier.exposure.daily_totals import kept_days, refresh_daily
from kwartier.exposure.export import Granularity, aggregate, period_bounds
from kwartier.server import build_hub
from tests.api.conftest import E1, SAMPLE, SAMPLE_EAN, World


def _bounds(first: date, end: date) -> tuple[datetime, datetime]:
    return period_bounds(first, Granularity.DAY, Energy.ELECTRICITY)[0], period_bounds(
        end, Granularity.DAY, Energy.ELECTRICITY
    )[0]


def test_kept_days_equal_the_live_sums_and_follow_the_data_version(world: World, samples_dir: Path) -> None:
    hub = build_hub(world.settings)
    ap = hub.pseudonymiser.of(E1)
    start, end = date(2023, 10, 22), date(2024, 1, 1)
    first, last = _bounds(start, end)
    assert kept_days(hub.settings, hub.store, ap, first, last) is None  # nothing kept yet: summed live

    report = refresh_daily(world.settings)
    assert report.recomputed == ["2023-10", "2023-11", "2023-12"] and report.rows > 0
    assert refresh_daily(world.settings).recomputed == []

    live = meter_data.readings(hub, E1, Energy.ELECTRICITY, start, end)
    kept = kept_days(hub.settings, hub.store, ap, first, last)
    assert kept is not None and kept.num_rows > 0
    assert kept.equals(aggregate(live, Granularity.DAY))
    months = meter_data.energy(hub, E1, Energy.ELECTRICITY, start, end, Granularity.MONTH)
    assert months.equals(aggregate(live, Granularity.MONTH))

    # a month kept in an earlier file format is not used, and the next refresh writes it again
    record = world.settings.home / "daily" / "month=2023-12" / "source.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "format": 1}, indent=1))
    assert kept_days(hub.settings, hub.store, ap, first, last) is None
    assert refresh_daily(world.settings).recomputed == ["2023-12"]
    again = kept_days(hub.settings, hub.store, ap, first, last)
    assert again is not None and again.equals(kept)

    # a corrected delivery for 2023-11-04 makes November stale: summed live until the next refresh
    source = (samples_dir / "mijn-fluvius" / SAMPLE).read_text(encoding="utf-8-sig").replace(SAMPLE_EAN, E1)
    lines = source.splitlines()
    target = "04/11/2023;18:45:00;04/11/2023;19:00:00;"
    fixed = [
        line.replace(";1,097;", ";2,000;") for line in lines if line.startswith(target) and "Offtake" in line
    ]
    assert fixed
    corrected = world.settings.home.parent / "corrected.csv"
    corrected.write_text("\n".join([lines[0], *fixed]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest", str(corrected), "--home", str(world.settings.home), "--json"])
    assert result.exit_code == 0, result.output
    hub = build_hub(world.settings)
    assert kept_days(hub.settings, hub.store, ap, first, last) is None
    november = meter_data.energy(
        hub, E1, Energy.ELECTRICITY, date(2023, 11, 4), date(2023, 11, 5), Granularity.DAY
    )
    relive = meter_data.readings(hub, E1, Energy.ELECTRICITY, date(2023, 11, 4), date(2023, 11, 5))
    assert november.equals(aggregate(relive, Granularity.DAY))
    assert refresh_daily(world.settings).recomputed == ["2023-11"]
    again = kept_days(hub.settings, hub.store, ap, first, last)
    assert again is not None
    assert again.equals(
        aggregate(meter_data.readings(hub, E1, Energy.ELECTRICITY, start, end), Granularity.DAY)
    )
    changed = pc.sum(again["value"]).as_py() - pc.sum(kept["value"]).as_py()
    assert changed == 2000 - 1097
    hub.export_lane.shutdown()


def test_each_access_points_rows_are_found_in_a_kept_file(tmp_path: Path) -> None:
    import pyarrow as pa  # noqa: PLC0415

    from kwartier.exposure.daily_totals import FILE, KEPT, _rows_of, _write, with_status  # noqa: PLC0415
    from kwartier.exposure.export import TOTALS  # noqa: PLC0415

    aps = [f"{n:016x}" for n in range(0, 500, 7)]
    start = datetime(2025, 2, 28, 23, tzinfo=UTC)
    rows = [
        (ap, "offtake", tariff, day)
        for ap in aps
        for tariff in ("day", "night")
        for day in range(3 + len(ap) % 5 + int(ap, 16) % 3)
    ]
    table = pa.table(
        {
            "ap": [r[0] for r in rows],
            "channel": [r[1] for r in rows],
            "tariff": [r[2] for r in rows],
            "start": [start + timedelta(days=r[3]) for r in rows],
            "end": [start + timedelta(days=r[3] + 1) for r in rows],
            "value": list(range(len(rows))),
            "quarters": [96] * len(rows),
            "estimated": [n % 3 * 48 for n in range(len(rows))],
        },
        schema=KEPT,
    )
    _write(tmp_path, table, {"data_version": "test"})
    for ap in aps:
        expected = with_status(table.filter(pc.equal(table["ap"], ap)).drop_columns(["ap"]))
        assert _rows_of(tmp_path / FILE, ap).equals(expected)
    for absent in ["0000000000000001", "ffffffffffffffff", "", "0"]:
        assert _rows_of(tmp_path / FILE, absent).equals(TOTALS.empty_table())

    _write(tmp_path, table.slice(0, 0), {"data_version": "empty"})  # a month without data: a new version
    assert _rows_of(tmp_path / FILE, aps[0]).equals(TOTALS.empty_table())
