"""Monthly sharing results reach the participants' suppliers and the group manager through the supply
market's outbox, valid against their schema, once per run (issue 5)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import sqlalchemy as sa

from kwartier.config import Settings
from kwartier.market import service
from kwartier.market.messages import SharingResult
from kwartier.market.register import Fact
from kwartier.registry.database import open_registry
from kwartier.registry.outbox import OutboxMessage
from kwartier.sharing.outbox import publish_monthly, suppliers_in
from kwartier.sharing.settlement import settle
from kwartier.store.pseudonym import Pseudonymiser
from tests.registry.scenario import E1, E3, SUPPLIER_GLN
from tests.sharing.test_settlement import DAY1, DAY3, RECORDED, settings  # noqa: F401 (fixture)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _move_in(session: sa.orm.Session, ean: str, customer: str) -> None:
    document = {
        "type": "move_in",
        "version": 1,
        "message_id": f"mi-{ean}",
        "sender": SUPPLIER_GLN,
        "received_at": "2026-11-01T09:00:00Z",
        "ean": ean,
        "customer": customer,
        "move_date": "2026-11-01",
        "brp": SUPPLIER_GLN,
    }
    answer = service.apply_message(session, json.dumps(document), lambda _ean, _day: {"offtake/day": 1})
    assert answer["accepted"], answer


def test_results_reach_the_suppliers_once_per_run(settings: Settings) -> None:  # noqa: F811
    sessions = open_registry(settings.registry_url)
    with sessions() as session:
        _move_in(session, E1, "C1")
        _move_in(session, E3, "C3")
    run = settle(settings, "roof", DAY1, DAY3, as_of=RECORDED)
    pseudonymiser = Pseudonymiser.from_key_file(settings.pseudonym_key_file)
    with sessions() as session, session.begin():
        assert publish_monthly(session, pseudonymiser, "roof", run.monthly, RECORDED, NOW) == 2
    with sessions() as session, session.begin():
        assert publish_monthly(session, pseudonymiser, "roof", run.monthly, RECORDED, NOW) == 0  # replay
    with sessions() as session:
        rows = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.type == "sharing_result")).all()
    messages = {row.ean: SharingResult.model_validate_json(row.payload) for row in rows}
    assert {row.recipient for row in rows} == {SUPPLIER_GLN} and set(messages) == {E1, E3}
    receiver = messages[E3]
    assert receiver.month == date(2026, 11, 1) and receiver.as_of == RECORDED
    assert sum(p.shared_wh for p in receiver.periods) == 191 * 300  # as test_settlement's hand count
    assert sum(p.given_wh for p in messages[E1].periods) == 191 * 300
    assert (
        "ap" not in rows[0].payload
    )  # results leave the hub keyed by EAN for the market, never by pseudonym


def test_suppliers_of_a_month_follow_the_register_history() -> None:
    def fact(day: str, supplier: str | None) -> Fact:
        return Fact(E1, "supplier", supplier, date.fromisoformat(day), NOW, None, "test")

    facts = [fact("2026-01-01", "A"), fact("2026-11-10", "B"), fact("2026-12-01", None)]
    assert suppliers_in(facts, date(2026, 11, 1), date(2026, 12, 1)) == ["A", "B"]
    assert suppliers_in(facts, date(2026, 12, 1), date(2027, 1, 1)) == []
    assert suppliers_in(facts, date(2026, 10, 1), date(2026, 11, 1)) == ["A"]
