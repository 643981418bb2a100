"""The supply market over HTTP for suppliers (issue 3 "Interfaces"): each supplier sends only in its own
name, reads only its own outbox and only the access points it supplies — and never their history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kwartier.access.accounts import create_account
from kwartier.access.codes import AccountRole
from kwartier.access.tokens import create_personal_token
from kwartier.registry.database import open_registry
from kwartier.registry.parties import Party
from kwartier.server import create_app
from tests.api.conftest import NOW, World
from tests.market.helpers import E1, E2, STROOM, VOLT


@pytest.fixture
def market(world: World) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    app = create_app(world.settings, clock=lambda: NOW)
    headers = {}
    with open_registry(world.settings.registry_url)() as session, session.begin():
        for code in (STROOM, VOLT):
            party_id = session.scalar(sa.select(Party.id).where(Party.code == code))
            account = create_account(
                session,
                app.state.hub.sealer,
                login=f"market@{code}.example",
                password="supplier password",
                role=AccountRole.SUPPLIER,
                now=NOW,
                party_id=party_id,
            )
            headers[code] = {
                "Authorization": f"Bearer {create_personal_token(session, account, 'market', NOW)[1]}"
            }
    with TestClient(app) as client:
        yield client, headers


def _switch(sender: str, message_id: str = "sw-1") -> dict[str, Any]:
    return {
        "type": "switch_request",
        "version": 1,
        "message_id": message_id,
        "sender": sender,
        "received_at": "2025-05-01T09:00:00Z",
        "ean": E1,
        "customer": "C1",
        "consent_date": "2025-04-30",
        "effective_date": "2025-05-20",
        "brp": STROOM,
    }


def test_a_supplier_sees_only_what_it_supplies_and_never_the_history(
    market: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, headers = market
    state = client.get(
        f"/api/v1/market/access-points/{E1}", params={"day": "2024-06-01"}, headers=headers[STROOM]
    )
    assert state.status_code == 200, state.text
    body = state.json()
    assert (body["supplier"], body["grid_user"]) == (STROOM, "C1") and "history" not in body
    assert (
        client.get(
            f"/api/v1/market/access-points/{E1}", params={"day": "2024-06-01"}, headers=headers[VOLT]
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/market/access-points/{E2}", params={"day": "2024-06-01"}, headers=headers[STROOM]
        ).status_code
        == 404
    )


def test_a_switch_through_the_api_and_each_supplier_reads_its_own_outbox(
    market: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, headers = market
    answer = client.post("/api/v1/market/messages", json=_switch(VOLT), headers=headers[VOLT])
    assert answer.status_code == 200 and answer.json()["accepted"] is True, answer.text
    again = client.post("/api/v1/market/messages", json=_switch(VOLT), headers=headers[VOLT])
    assert again.json() == answer.json()  # idempotent by message id
    volt = client.get("/api/v1/market/outbox", headers=headers[VOLT]).json()
    stroom = client.get("/api/v1/market/outbox", headers=headers[STROOM]).json()
    assert volt and all(m["recipient"] == VOLT for m in volt)
    assert stroom and all(m["recipient"] == STROOM for m in stroom)
    assert {m["id"] for m in volt}.isdisjoint(m["id"] for m in stroom)
    later = client.get(
        "/api/v1/market/outbox", params={"after": volt[-1]["id"]}, headers=headers[VOLT]
    ).json()
    assert later == []


def test_a_message_in_another_partys_name_or_malformed_changes_nothing(
    market: tuple[TestClient, dict[str, dict[str, str]]], world: World
) -> None:
    client, headers = market
    forged = client.post("/api/v1/market/messages", json=_switch(STROOM, "forged"), headers=headers[VOLT])
    assert forged.status_code == 403
    broken = {**_switch(VOLT, "broken"), "effective_date": "2025-02-30"}
    answer = client.post("/api/v1/market/messages", json=broken, headers=headers[VOLT]).json()
    assert answer["accepted"] is False and answer["code"] == "malformed"
    assert client.get("/api/v1/market/outbox", headers=headers[VOLT]).json() == []
    household = {"Authorization": f"Bearer {world.c1_token}"}
    assert client.post("/api/v1/market/messages", json=_switch(VOLT), headers=household).status_code == 403
    assert client.get("/api/v1/market/outbox").status_code == 401
