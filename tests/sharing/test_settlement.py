"""Settlement runs on the store: participation checks, flags, monthly results, pseudonyms, "as known at".

Region: ``tests.registry.scenario`` (E1 digital with PV, SMR3 from 2026-11-15; E3 digital SMR3; E2
SMR1). Group ``roof``: E1 (share 0) shares its injection with E3 (share 1), relative key, from
2026-11-16. Readings for 2026-11-16 and -17: E1 injects 400 Wh and E3 takes 300 Wh every quarter hour;
on the second day E3's values are estimated and its 10:00 UTC quarter has no offtake.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from kwartier.cli import app
from kwartier.config import Settings, load_settings
from kwartier.domain.channels import ReadingStatus
from kwartier.domain.timegrid import local_midnight_utc
from kwartier.registry.database import open_registry, upgrade
from kwartier.registry.master_data import load_master_data
from kwartier.registry.sharing_groups import AllocationKey, SharingForm
from kwartier.schema import STORED_READINGS
from kwartier.sharing.group import Group, Participant
from kwartier.sharing.participation import (
    ParticipationError,
    Rule,
    change_key,
    register_group,
    set_participants,
)
from kwartier.sharing.settlement import settle
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore
from tests.registry.scenario import E1, E2, E3, write_master

DAY1, DAY3 = date(2026, 11, 16), date(2026, 11, 18)
RECORDED = datetime(2026, 11, 18, 6, tzinfo=UTC)
MISSING_QUARTER = datetime(2026, 11, 17, 10, tzinfo=UTC)
ROOF = Group(
    "roof",
    SharingForm.BUILDING,
    AllocationKey.RELATIVE,
    (Participant(E1, 0), Participant(E3, 1_000_000)),
    None,
)


def _readings(pseudonymiser: Pseudonymiser) -> pa.Table:
    rows: dict[str, list[object]] = {name: [] for name in STORED_READINGS.names}
    start, end = local_midnight_utc(DAY1), local_midnight_utc(DAY3)
    while start < end:
        second_day = start >= local_midnight_utc(DAY3 - timedelta(days=1))
        for ean, channel, value in ((E1, "injection", 400), (E3, "offtake", 300)):
            if ean == E3 and start == MISSING_QUARTER:
                continue
            status = ReadingStatus.ESTIMATED if ean == E3 and second_day else ReadingStatus.MEASURED
            for name, item in (
                ("ap", pseudonymiser.of(ean)),
                ("channel", channel),
                ("tariff", "total"),
                ("start", start),
                ("minutes", 15),
                ("value", value),
                ("status", status.value),
                ("rule", None),
                ("method", "interpolation" if status is ReadingStatus.ESTIMATED else None),
                ("batch", "b1"),
                ("recorded_at", RECORDED),
            ):
                rows[name].append(item)
        start += timedelta(minutes=15)
    return pa.table(rows, schema=STORED_READINGS)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = load_settings(tmp_path / "home")
    upgrade(settings.registry_url)
    sessions = open_registry(settings.registry_url)
    with sessions() as session, session.begin():
        load_master_data(session, write_master(tmp_path / "master"))
        register_group(session, ROOF, DAY1)
    store = MeterStore.open(settings.store_dir)
    staged = store.stage("b1")
    staged.write_table("readings", _readings(Pseudonymiser.from_key_file(settings.pseudonym_key_file)))
    store.commit(staged, {})
    yield settings


def test_a_run_settles_flags_and_writes_pseudonymised_monthly_results(settings: Settings) -> None:
    run = settle(settings, "roof", DAY1, DAY3, as_of=RECORDED)
    quarters = pq.read_table(run.directory / "quarters.parquet")
    assert quarters.num_rows == 2 * 2 * 96
    assert run.summary["estimated_quarters"] == 95 and run.summary["missing_quarters"] == 1
    # 400 offered to E3 each quarter, 300 taken, 100 back: 191 quarters × 300 shared, 0 in the missing one
    assert run.summary["totals_wh"]["shared_wh"] == 191 * 300
    assert run.summary["totals_wh"]["net_injection_wh"] == 192 * 400 - 191 * 300
    assert [w["rule"] for w in run.summary["warnings"]] == [Rule.SUPPLY_CONTRACT.value] * 2
    files = b"".join(p.read_bytes() for p in run.directory.iterdir())
    assert E1.encode() not in files and E3.encode() not in files
    monthly = run.monthly.to_pylist()
    assert {(r["month"], r["tariff"]) for r in monthly} == {
        (date(2026, 11, 1), "day"),
        (date(2026, 11, 1), "night"),
    }
    assert sum(r["shared_wh"] for r in monthly) == 191 * 300
    assert sum(r["given_wh"] for r in monthly) == 191 * 300
    assert sum(r["estimated_quarters"] for r in monthly) == 95


def test_a_run_is_reproducible_as_known_at(settings: Settings) -> None:
    first = settle(settings, "roof", DAY1, DAY3, as_of=RECORDED)
    before = settle(settings, "roof", DAY1, DAY3, as_of=RECORDED - timedelta(seconds=1))
    again = settle(settings, "roof", DAY1, DAY3, as_of=RECORDED)
    assert again.directory == first.directory
    assert pq.read_table(again.directory / "quarters.parquet").equals(
        pq.read_table(first.directory / "quarters.parquet")
    )
    assert before.summary["totals_wh"]["shared_wh"] == 0  # nothing was known yet
    assert before.summary["missing_quarters"] == 2 * 2 * 96


def test_a_key_change_splits_the_run(settings: Settings) -> None:
    sessions = open_registry(settings.registry_url)
    with sessions() as session, session.begin():
        change_key(session, "roof", AllocationKey.FIXED, DAY3 - timedelta(days=1))
    run = settle(settings, "roof", DAY1, DAY3, as_of=RECORDED)
    assert [p["key"] for p in run.summary["periods"]] == ["relative", "fixed"]
    # fixed: E1's share is 0, so the same 400 is offered to E3 on the second day
    assert run.summary["totals_wh"]["shared_wh"] == 191 * 300


def test_participants_without_a_quarter_hour_meter_are_refused(settings: Settings) -> None:
    sessions = open_registry(settings.registry_url)
    with sessions() as session, session.begin():
        with pytest.raises(ParticipationError) as refused:
            set_participants(session, "roof", {E1: 0, E2: 500_000, E3: 500_000}, DAY3)
        assert [(f.ean, f.rule) for f in refused.value.findings] == [(E2, Rule.QUARTER_HOUR_METER)]
        early = Group("early", SharingForm.SELF, AllocationKey.FIXED, ROOF.participants, None)
        with pytest.raises(ParticipationError) as too_early:  # E1 is SMR1 until 2026-11-15
            register_group(session, early, date(2026, 11, 1), check_until=DAY1)
        rules = {(f.ean, f.rule, f.day_to) for f in too_early.value.findings}
        assert (E1, Rule.QUARTER_HOUR_METER, date(2026, 11, 15)) in rules
        assert (E1, Rule.ONE_GROUP, DAY1) not in rules  # roof starts on DAY1: no overlap before it


def test_cli_run_and_compare(settings: Settings) -> None:
    runner = CliRunner()
    home = str(settings.home)
    common = ["--group", "roof", "--from", str(DAY1), "--to", str(DAY3), "--as-of", RECORDED.isoformat()]
    run = runner.invoke(app, ["sharing", "run", *common, "--home", home, "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["totals_wh"]["shared_wh"] == 191 * 300
    compared = runner.invoke(app, ["sharing", "compare", *common, "--home", home, "--json"])
    assert compared.exit_code == 0, compared.output
    document = json.loads(compared.stdout)
    for key in ("fixed", "relative", "optimal"):
        total = document[key]["total"]
        assert total["shared_kwh"] == 57.3
        assert total["saving_eur"] == 23.49  # 57.3 kWh × 0.41
        assert total["lost_compensation_eur"] == 12.03  # 57.3 kWh × 0.21
    unknown = runner.invoke(
        app, ["sharing", "run", "--group", "nope", "--from", str(DAY1), "--to", str(DAY3), "--home", home]
    )
    assert unknown.exit_code == 1
