"""The market service on the registry (SQLite and PostgreSQL): messages in, register, outbox and work
queue out; idempotency, malformed messages, concurrency."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.domain.ean import with_check_digit
from kwartier.market import processes, service
from kwartier.market.blocks import blocked_report
from kwartier.market.register import Fact
from kwartier.registry.access_points import AccessPoint
from kwartier.registry.database import open_registry
from kwartier.registry.market_processes import MarketProcess
from kwartier.registry.master_data import load_master_data
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.registry.models import metadata
from tests.market.conftest import MASTER
from tests.market.helpers import BALANS, DSO, E1, E3, STROOM, VOLT, WATT, Readings, at

MOVE_IN = {
    "type": "move_in",
    "version": 1,
    "message_id": "mi1",
    "sender": STROOM,
    "received_at": "2026-01-05T09:00:00Z",
    "ean": E1,
    "customer": "C1",
    "move_date": "2026-01-05",
    "brp": STROOM,
}
SWITCH = {
    "type": "switch_request",
    "version": 1,
    "message_id": "sw1",
    "sender": VOLT,
    "received_at": "2026-02-01T09:00:00Z",
    "ean": E1,
    "customer": "C1",
    "consent_date": "2026-01-30",
    "effective_date": "2026-02-10",
    "brp": BALANS,
}
READINGS = Readings(
    {(E1, date(2026, 1, 5)): {"offtake/day": 1000}, (E1, date(2026, 2, 10)): {"offtake/day": 2000}}
)


def _apply(session: Session, document: dict[str, Any], readings: Readings = READINGS) -> dict[str, Any]:
    return service.apply_message(session, json.dumps(document), readings)


def _counts(session: Session) -> dict[str, int]:
    return {
        name: session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        for name, table in metadata.tables.items()
    }


def test_messages_build_the_register_with_its_history_and_the_outbox(market: sessionmaker[Session]) -> None:
    with market() as session:
        assert _apply(session, MOVE_IN)["accepted"]
        assert _apply(session, SWITCH) == {"message_id": "sw1", "accepted": True, "process_id": "sw1"}
        before = service.register_state(session, E1, date(2026, 2, 10))
        assert before is not None and before["supplier"] == STROOM and before["status"] == "in_process"
        assert service.tick(session, at("2026-02-11"), READINGS) == 1
        after = service.register_state(session, E1, date(2026, 2, 10))
        assert after is not None
        assert (after["status"], after["grid_user"], after["supplier"], after["brp"]) == (
            "connected",
            "C1",
            VOLT,
            BALANS,
        )
        assert after["meter"] == {"serial": "M1", "kind": "digital"} and after["regime"]["regime"] == "SMR1"
        assert after["history"]["supplier"] == [
            {"valid_from": "2026-01-05", "valid_to": "2026-02-10", "value": STROOM},
            {"valid_from": "2026-02-10", "valid_to": None, "value": VOLT},
        ]
        known_before = service.register_state(session, E1, date(2026, 2, 10), at("2026-02-05"))
        assert known_before is not None and known_before["supplier"] == STROOM
        assert service.register_state(session, E1, date(2019, 12, 31))["status"] is None  # type: ignore[index]
        pv = service.register_state(session, E3, date(2026, 1, 1))
        assert pv is not None and pv["installations"] == [
            {"kind": "pv", "kva": 3.0, "commissioned_on": "2021-06-01"}
        ]
        to_volt = service.outbox(session, VOLT)
        assert [m["type"] for m in to_volt] == ["confirmation", "supply_started", "handover_index"]
        assert to_volt[-1]["index"] == {"offtake/day": 2000}
        assert service.overdue_reservations(session, at("2026-02-11")) == []


def test_the_same_message_twice_changes_nothing_and_a_reused_id_is_rejected(
    market: sessionmaker[Session],
) -> None:
    with market() as session:
        first = _apply(session, MOVE_IN)
        counts = _counts(session)
        assert _apply(session, MOVE_IN) == first
        assert _counts(session) == counts
        reused = _apply(session, MOVE_IN | {"customer": "C2"})
        assert reused["code"] == "duplicate_message_id"
        assert _counts(session) == counts


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps(MOVE_IN | {"colour": "red"}),
        json.dumps(MOVE_IN | {"ean": E1[:-1] + "0"}),
        json.dumps(MOVE_IN | {"move_date": "2026-02-30"}),
        json.dumps(MOVE_IN | {"received_at": "2026-01-05T09:00:00"}),
        json.dumps(MOVE_IN | {"sender": "5414499000010"}),
        json.dumps({k: v for k, v in MOVE_IN.items() if k != "customer"}),
        json.dumps(MOVE_IN | {"index": {"offtake/day": 2**53}}),  # beyond what every JSON reader keeps
        json.dumps(MOVE_IN | {"index": {"offtake/day": 10**30}}),  # beyond 64 bits
    ],
)
def test_a_malformed_message_is_rejected_and_changes_nothing(
    market: sessionmaker[Session], text: str
) -> None:
    with market() as session:
        counts = _counts(session)
        answer = service.apply_message(session, text, READINGS)
        assert answer["accepted"] is False and answer["code"] == "malformed" and len(answer["text"]) > 40
        assert _counts(session) == counts


def test_a_missing_reading_reaches_the_work_queue_and_escalates_never_past_its_deadline(
    market: sessionmaker[Session],
) -> None:
    readings = Readings({(E1, date(2026, 1, 5)): {"offtake/day": 1000}})
    with market() as session:
        _apply(session, MOVE_IN, readings)
        _apply(session, SWITCH, readings)
        for day in range(10, 60):
            now = datetime(2026, 2, 1, 12, tzinfo=UTC) + timedelta(days=day)
            service.tick(session, now, readings)
            assert service.overdue_reservations(session, now) == []
        (item,) = service.work_queue(session)
        assert item["process_id"] == "sw1" and item["reason"] == "no_remote_reading"
        assert (
            item["actions"] == ["retry_reading", "enter_index"] and item["owner"] == "dso:market-operations"
        )
        assert item["level"] >= 8
        report = blocked_report(service.attention_periods(session), datetime(2026, 3, 31, 12, tzinfo=UTC))
        assert (report["blocked"], report["blocked_over_10_days"], report["blocked_over_6_months"]) == (
            1,
            1,
            0,
        )
        resolve = {
            "type": "resolve",
            "version": 1,
            "message_id": "r1",
            "sender": DSO,
            "received_at": "2026-04-01T09:00:00Z",
            "ean": E1,
            "process_id": "sw1",
            "action": "enter_index",
            "index": {"offtake/day": 2100},
        }
        assert _apply(session, resolve, readings)["accepted"]
        assert service.work_queue(session) == []
        assert service.outbox(session, VOLT)[-1]["source"] == "entered"


@pytest.mark.postgres
def test_two_suppliers_switching_at_the_same_moment_one_is_accepted(postgres_registry: str) -> None:
    engine = sa.create_engine(postgres_registry)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {', '.join(metadata.tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    factory = open_registry(postgres_registry)
    with factory() as session, session.begin():
        load_master_data(session, MASTER)
    with factory() as session:
        assert _apply(session, MOVE_IN)["accepted"]
    answers: dict[str, dict[str, Any]] = {}
    barrier = threading.Barrier(2)

    def switch(sender: str) -> None:
        with factory() as session:
            barrier.wait()
            answers[sender] = _apply(session, SWITCH | {"sender": sender, "message_id": f"sw-{sender}"})

    threads = [threading.Thread(target=switch, args=(supplier,)) for supplier in (VOLT, WATT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    factory.kw["bind"].dispose()
    assert sorted(answer["accepted"] for answer in answers.values()) == [False, True]
    (rejected,) = [answer for answer in answers.values() if not answer["accepted"]]
    assert rejected["code"] == "overlapping_process"
    with open_registry(postgres_registry)() as session:
        assert len(session.scalars(sa.select(MarketProcess).where(MarketProcess.kind == "switch")).all()) == 1


@pytest.mark.parametrize("registry_url", ["sqlite"], indirect=True)
def test_on_sqlite_a_second_writer_waits_for_the_chunk_that_read_first(
    market: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two suppliers switch one access point; the second apply starts after the first loaded its snapshot
    and before it wrote anything. It waits for the first's commit (the first holds the write lock from
    before it read) and is rejected: not both accepted from the same snapshot."""
    with market() as session:
        assert _apply(session, MOVE_IN)["accepted"]
    answers: dict[str, dict[str, Any]] = {}

    def second_supplier() -> None:
        with market() as other:
            answers[WATT] = _apply(other, SWITCH | {"sender": WATT, "message_id": "sw-watt"})

    second = threading.Thread(target=second_supplier)
    handle = processes.handle

    def handle_while_another_applies(*arguments: Any) -> Any:
        if second.ident is None:  # the first apply, snapshot loaded: let the second one run meanwhile
            second.start()
            second.join(timeout=1.0)
        return handle(*arguments)

    monkeypatch.setattr(service, "handle", handle_while_another_applies)
    with market() as session:
        answers[VOLT] = _apply(session, SWITCH)
    second.join()
    assert answers[VOLT]["accepted"]
    assert not answers[WATT]["accepted"] and answers[WATT]["code"] == "overlapping_process"


_WHOLE_TABLE = ("Seq Scan", "Hash Join", "Merge Join")
"""Plan nodes that read a whole table (a hash or merge join reads all of one side); an EAN condition
applied as a ``Filter`` also means rows were read to be thrown away (along the primary key, say)."""


def _padded(value: Any) -> Any:
    """A list parameter (the ``= ANY`` array of EANs, message ids or meter ids) filled up to 2,000
    values of its type."""
    if not isinstance(value, list):
        return value
    more = range(10**9, 10**9 + 2_000 - len(value))
    return value + (list(more) if value and isinstance(value[0], int) else [f"{n:018d}" for n in more])


def _more_metered_access_points(session: Session, count: int) -> None:
    """``count`` more access points, each with a meter of its own: tables large enough that PostgreSQL,
    without statistics, would join all meters to the installations by hash."""
    numbers = range(1_000, 1_000 + count)
    created = datetime(2025, 12, 1, tzinfo=UTC)
    session.execute(
        sa.insert(AccessPoint),
        [
            {
                "ean": with_check_digit(f"54144882{n:09d}"),
                "energy": "electricity",
                "grid_area": "GA1",
                "connected_from": date(2020, 1, 1),
                "created_at": created,
            }
            for n in numbers
        ],
    )
    session.execute(
        sa.insert(Meter),
        [{"id": n, "serial": f"X{n}", "kind": "digital", "energy": "electricity"} for n in numbers],
    )
    session.execute(
        sa.insert(MeterInstallation),
        [
            {"ean": with_check_digit(f"54144882{n:09d}"), "meter_id": n, "valid_from": date(2020, 1, 1)}
            for n in numbers
        ],
    )
    session.commit()


@pytest.mark.parametrize(
    "registry_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_on_postgresql_every_query_of_a_chunk_finds_its_rows_by_an_index(
    market: sessionmaker[Session],
) -> None:
    """The queries as a chunk of 2,000 access points sends them. The tables have no statistics (never
    analysed): PostgreSQL would take the 2,000 values for most of a table and read it whole, by a scan,
    a hash join, or along another index in the order asked; at 500,000 access points such plans made
    each chunk read the master data tables in full, and the facts along their primary key."""
    statements: list[tuple[str, Any]] = []

    def record(_connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    with market() as session:
        _more_metered_access_points(session, 10_000)
        assert _apply(session, MOVE_IN)["accepted"]
        engine = session.get_bind()
        sa.event.listen(engine, "before_cursor_execute", record)
        try:  # a chunk with an access point seen before (stored facts) and one new (master data)
            moved_in = MOVE_IN | {"message_id": "mi3", "ean": E3}
            texts = [json.dumps(SWITCH), json.dumps(moved_in)]
            assert [a["accepted"] for a in service.apply_messages(session, texts, READINGS)] == [True, True]
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        chunk = [
            (statement, parameters) for statement, parameters in statements if "parties" not in statement
        ]
        assert len(chunk) >= 5
        service.begin_writing(session)
        for statement, parameters in chunk:
            driver = session.connection().connection.driver_connection
            assert driver is not None
            full = {name: _padded(value) for name, value in parameters.items()}  # a chunk's 2,000 EANs
            plan = [row[0] for row in driver.execute(f"EXPLAIN {statement}", full)]
            whole = [line for line in plan if any(node in line for node in _WHOLE_TABLE)]
            filtered = [line for line in plan if "Filter:" in line and "ANY" in line]
            assert whole == [] and filtered == [], (statement, plan)
        session.rollback()


def test_replaying_every_scenario_message_in_chunks_then_one_by_one_changes_nothing_the_second_time(
    market: sessionmaker[Session],
) -> None:
    scenarios = Path(__file__).parent / "scenarios"
    texts = [
        line
        for folder in sorted(scenarios.iterdir())
        for line in (
            (folder / "given" / "messages.jsonl").read_text(encoding="utf-8").splitlines()
            + [p.read_text(encoding="utf-8") for p in sorted((folder / "when").glob("*.json"))]
        )
        if "tick" not in json.loads(line)
    ]
    with market() as session:
        first = service.apply_messages(session, texts, READINGS, chunk=4)
        counts = _counts(session)
        assert [service.apply_message(session, text, READINGS) for text in texts] == first
        assert _counts(session) == counts
        assert any(answer["accepted"] for answer in first) and not all(answer["accepted"] for answer in first)


def test_stored_fact_values_are_decoded_each_in_its_place_and_a_broken_one_raises() -> None:
    day, moment = date(2026, 1, 5), datetime(2026, 1, 5, 9, tzinfo=UTC)
    texts = ['"connected"', None, '{"regime": "SMR3", "requested_by": null}', "9.2", "null", '[1, "a"]']
    rows = [(E1 if n % 2 else E3, f"a{n}", text, day, moment, None, "market") for n, text in enumerate(texts)]
    facts = service.facts_of(rows)
    decoded = [fact.value for fact in facts[E3]] + [fact.value for fact in facts[E1]]
    assert decoded == ["connected", {"regime": "SMR3", "requested_by": None}, None, None, 9.2, [1, "a"]]
    assert [fact.attribute for fact in facts[E1]] == ["a1", "a3", "a5"]
    for broken in ("1, 2", '"a', ""):
        with pytest.raises(ValueError):
            service.facts_of([*rows, (E1, "b", broken, day, moment, None, "market")])


def test_a_fact_read_back_is_the_fact_the_constructor_gives() -> None:
    values = (
        E1,
        "status",
        "connected",
        date(2026, 1, 5),
        datetime(2026, 1, 5, 9, tzinfo=UTC),
        "p1",
        "market",
    )
    stored, built = Fact.stored(*values), Fact(*values)
    assert stored == built and hash(stored) == hash(built) and repr(stored) == repr(built)
    assert list(vars(stored)) == [field.name for field in dataclasses.fields(Fact)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.value = None  # type: ignore[misc]


def test_stored_json_is_orjson_text_and_an_integer_beyond_64_bits_is_still_written() -> None:
    """``service.json_text``: keys sorted, no spaces; an integer orjson refuses (only in data stored
    before messages bounded their indexes) falls back to the standard library, exactly."""
    assert service.json_text({"b": 1, "a": [None, "é"]}) == '{"a":[null,"é"],"b":1}'
    assert json.loads(service.json_text({"index": {"offtake/day": 10**30}})) == {
        "index": {"offtake/day": 10**30}
    }
