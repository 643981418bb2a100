"""The simulated market stream (:mod:`kwartier.market.stream`) and the demo's run of it
(:mod:`kwartier.market.demo`): every process of the issue shows up, classic meters carry the customer's
indexes and are exchanged for digital ones, and the demo leaves the data market's households alone and
applies nothing twice."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.domain.ean import with_check_digit
from kwartier.market import messages as m
from kwartier.market import service
from kwartier.market.codes import NOTICE_DAYS, Attribute, ProcessState
from kwartier.market.demo import run_market
from kwartier.market.stream import COOLING_OFF_DAYS, DAILY_WH, Market, market_of, market_stream
from kwartier.registry.access_register import RegisterFact
from kwartier.registry.market_processes import MarketProcess
from tests.market.conftest import MASTER
from tests.market.crash_apply import reading
from tests.market.helpers import DSO, E1, E2, E3, STROOM, VOLT, WATT

START = date(2026, 1, 5)


def _documents(texts: list[str]) -> list[dict[str, object]]:
    documents = []
    for text in texts:
        try:
            documents.append(json.loads(text))
        except ValueError:
            continue
    return documents


def _region(count: int) -> Market:
    """A region of ``count`` access points, one in five on a classic meter, and three suppliers."""
    eans = [with_check_digit(f"54144882{n:09d}") for n in range(count)]
    return Market(
        eans,
        [n % 5 != 0 for n in range(count)],
        [f"M{n}" for n in range(count)],
        [STROOM, VOLT, WATT],
        STROOM,
        DSO,
    )


def test_the_stream_holds_every_process_and_parses() -> None:
    texts = market_stream(_region(500), 6_000, START)
    documents = _documents(texts)
    kinds = Counter(str(d["type"]) for d in documents)
    assert set(kinds) == {
        "move_in",
        "move_out",
        "switch_request",
        "end_of_supply",
        "regime_change_request",
        "meter_exchange",
        "production_registration",
        "cancel",
    }
    cut_off = [text for text in texts if text.endswith('"message_id": ')]
    assert cut_off and len(texts) - len(documents) == len(cut_off)  # the bad JSON is the cut-off line
    for document in documents:  # every complete line is a valid message of its schema
        m.parse_inbound_json(json.dumps(document))
    received = [str(d["received_at"]) for d in documents]
    assert received == sorted(received)


def test_classic_meters_get_indexes_until_exchanged_for_a_digital_one() -> None:
    market = Market([E1, E2, E3], [True, False, True], ["M1", "M2", "M3"], [STROOM], STROOM, DSO)
    documents = _documents(market_stream(market, 6_000, START, seed=11))
    exchanges = [d for d in documents if d["type"] == "meter_exchange"]
    assert [(d["ean"], d["old_serial"], d["new_serial"], d["new_kind"]) for d in exchanges] == [
        (E2, "M2", "M2-D", "digital")
    ]
    exchanged_at = str(exchanges[0]["received_at"])
    moves = [d for d in documents if d["type"] in ("move_in", "move_out")]
    for move in moves:
        classic = move["ean"] == E2 and str(move["received_at"]) < exchanged_at
        assert ("index" in move) == classic
    indexes = [d["index"] for d in moves if "index" in d]
    assert indexes  # at least the first move-in
    days = [(date.fromisoformat(str(d["move_date"])) - START).days for d in moves if "index" in d]
    level = 10_000_000 + 997 * 1  # E2 is the second access point
    assert indexes == [{name: level + day * wh for name, wh in DAILY_WH.items()} for day in days]
    # the closing index continues the customer's readings; the new meter opens at zero
    closing_day = (date.fromisoformat(str(exchanges[0]["exchange_date"])) - START).days
    assert exchanges[0]["closing_index"] == {name: level + closing_day * wh for name, wh in DAILY_WH.items()}
    assert exchanges[0]["opening_index"] == dict.fromkeys(DAILY_WH, 0)


def test_the_demo_market_leaves_placed_households_and_applies_nothing_twice(
    market: sessionmaker[Session],
) -> None:
    household = {
        "type": "move_in",
        "version": 1,
        "message_id": "demo-move-in-DEMO-ANN",
        "sender": STROOM,
        "received_at": "2026-01-05T08:00:00Z",
        "ean": E3,
        "customer": "DEMO-ANN",
        "move_date": "2026-01-05",
        "brp": STROOM,
    }
    now = datetime(2026, 1, 20, 3, tzinfo=UTC)
    with market() as session:
        assert service.apply_message(session, json.dumps(household), reading)["accepted"]
        run = run_market(session, MASTER, START, now, reading)
        assert run.messages["move_in"] == 2 and run.new == sum(run.messages.values())
        assert run.accepted > 0 and run.outbox > 0
        touched = set(
            session.scalars(
                sa.select(RegisterFact.ean).where(RegisterFact.process_id.startswith("sim-")).distinct()
            )
        )
        assert touched == {E1, E2}  # the household's access point is not in the stream
        users = session.scalars(
            sa.select(RegisterFact.value).where(
                RegisterFact.ean == E3, RegisterFact.attribute == Attribute.GRID_USER.value
            )
        ).all()
        assert users == [json.dumps("DEMO-ANN")]
        again = run_market(session, MASTER, START, now, reading)
    assert again.new == 0 and again.outbox == 0
    assert (again.messages, again.accepted, again.rejected) == (run.messages, run.accepted, run.rejected)


def test_withdrawals_come_from_the_sender_before_the_process_takes_effect() -> None:
    documents = _documents(market_stream(_region(2_000), 30_000, START))
    by_id = {str(d["message_id"]): d for d in documents}
    cancels = [d for d in documents if d["type"] == "cancel"]
    withdrawn = Counter(str(by_id[str(c["process_id"])]["type"]) for c in cancels)
    assert withdrawn["switch_request"] > 100 and withdrawn["end_of_supply"] > 10
    assert set(withdrawn) == {"switch_request", "end_of_supply"}
    for cancel in cancels:
        process = by_id[str(cancel["process_id"])]
        assert (cancel["ean"], cancel["sender"]) == (process["ean"], process["sender"])
        requested = datetime.fromisoformat(str(process["received_at"]))
        withdrawn_at = datetime.fromisoformat(str(cancel["received_at"]))
        days = (withdrawn_at - requested).days
        if process["type"] == "switch_request":
            assert 1 <= days <= COOLING_OFF_DAYS
            assert withdrawn_at.date() < date.fromisoformat(str(process["effective_date"]))
        else:
            assert 1 <= days <= NOTICE_DAYS
        between = [
            d
            for d in documents
            if d["ean"] == cancel["ean"]
            and requested < datetime.fromisoformat(str(d["received_at"])) < withdrawn_at
        ]
        assert between == []


def test_the_service_accepts_every_withdrawal_of_the_stream(market: sessionmaker[Session]) -> None:
    texts = market_stream(market_of(MASTER), 200, START, days=3_000, seed=8)
    cancels = [d for d in _documents(texts) if d["type"] == "cancel"]
    assert len(cancels) == 4
    with market() as session:
        answers = {
            a["message_id"]: a for a in service.apply_messages(session, texts, reading) if "message_id" in a
        }
        assert all(answers[str(c["message_id"])]["accepted"] for c in cancels)
        states = session.scalars(
            sa.select(MarketProcess.state).where(
                MarketProcess.id.in_([str(c["process_id"]) for c in cancels])
            )
        ).all()
    assert states == [ProcessState.CANCELLED] * len(cancels)
