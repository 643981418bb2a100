"""The provider API: authentication, mandates, reads checked against mandate and occupancy, the access
log, fair use and the operators' routes — the negative cases as thoroughly as the positive ones."""

from __future__ import annotations

import csv
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kwartier.access.mandate_service import decide, mandate_by_consent
from kwartier.access.rate_limits import TokenBuckets
from kwartier.cli import app as cli
from kwartier.registry.data_access import AccessLogEntry, WebhookDelivery
from kwartier.registry.database import open_registry
from tests.api.conftest import E1, E2, NOW, SAMPLE, SAMPLE_EAN, World, account, provider_token

MANDATE = {
    "subject": E1,
    "services": ["quarter_hour", "daily"],
    "data_from": "2023-11-01",
    "data_to": "2025-05-01",
    "expires_at": "2026-05-01T00:00:00Z",
    "reference": "order-17",
    "return_url": "https://provider.example/back",
}


def _request(api: TestClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = api.post("/api/v1/mandates", json={**MANDATE, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _approve(world: World, consent_url: str, login: str = "c1@example.be", approve: bool = True) -> None:
    token = consent_url.rsplit("/", 1)[1]
    with open_registry(world.settings.registry_url)() as session, session.begin():
        mandate = mandate_by_consent(session, token)
        assert mandate is not None
        decide(session, account(world, login), mandate, approve, NOW)


def _energy(
    api: TestClient,
    headers: dict[str, str],
    start: str,
    end: str,
    granularity: str = "day",
    shape: str = "rows",
) -> Any:
    return api.get(
        f"/api/v1/access-points/{E1}/energy",
        params={"from": start, "to": end, "granularity": granularity, "shape": shape},
        headers=headers,
    )


def _offtake_of_day(samples_dir: Path, day: date) -> int:
    """Offtake (day + night registers) of one local day in the sample export, in Wh: a second method."""
    text = (samples_dir / "mijn-fluvius" / SAMPLE).read_text(encoding="utf-8-sig")
    total = Decimal(0)
    for row in csv.DictReader(text.splitlines(), delimiter=";"):
        if (
            row["From (date)"] == day.strftime("%d/%m/%Y")
            and row["Register"].startswith("Offtake")
            and row["Volume"]
        ):
            total += Decimal(row["Volume"].replace(",", "."))
    assert SAMPLE_EAN in text
    return int(total * 1000)


def test_health_and_openapi_need_no_credentials(api: TestClient) -> None:
    assert api.get("/api/v1/health").json()["status"] == "ok"
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/mandates", "/api/v1/access-points/{ean}/energy", "/api/v1/status"} <= set(paths)
    assert api.get("/api/v1/status").json()["status"] == "operational"


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_no_valid_token_is_401(api: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = api.get("/api/v1/mandates", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_token_endpoint_refuses_bad_credentials_and_grants(api: TestClient, world: World) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": world.credentials.client_id,
        "client_secret": "x",
    }
    assert api.post("/api/v1/oauth/token", data=form).json() == {"error": "invalid_client"}
    assert api.post("/api/v1/oauth/token", data={**form, "grant_type": "password"}).status_code == 400
    basic = api.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(world.credentials.client_id, world.credentials.client_secret),
    )
    assert basic.status_code == 200 and basic.json()["expires_in"] == 900


def test_roles_are_denied_by_default(api: TestClient, world: World) -> None:
    household = {"Authorization": f"Bearer {world.c1_token}"}
    provider = provider_token(api, world)
    assert api.get("/api/v1/mandates", headers=household).status_code == 403
    assert api.get("/api/v1/operator/usage", headers=provider).status_code == 403
    assert api.get("/api/v1/me/access-points", headers=provider).status_code == 403
    contract = {"party_code": "5414499000079", "reference": "X", "valid_from": "2025-01-01"}
    assert api.post("/api/v1/contracts", json=contract, headers=provider).status_code == 403


def test_the_mandate_journey_reads_only_what_was_granted(
    api: TestClient, world: World, samples_dir: Path
) -> None:
    headers = provider_token(api, world)
    created = _request(api, headers)
    assert created["mandate"]["status"] == "requested" and "/consent/kwc_" in created["consent_url"]
    assert _energy(api, headers, "2023-12-01", "2024-01-01").json()["detail"] == "mandate_not_approved"
    _approve(world, created["consent_url"])

    december = _energy(api, headers, "2023-12-01", "2024-01-01")
    assert december.status_code == 200
    rows = december.json()["rows"]
    second = [r for r in rows if r["channel"] == "offtake" and r["start"].startswith("2023-12-01T23:00")]
    assert sum(r["value_wh"] for r in second) == _offtake_of_day(samples_dir, date(2023, 12, 2))
    assert {r["status"] for r in rows} <= {"measured", "estimated", "partly-estimated"}

    quarters = _energy(api, headers, "2023-12-02", "2023-12-03", "quarter").json()["rows"]
    assert sum(r["value_wh"] for r in quarters if r["channel"] == "offtake") == _offtake_of_day(
        samples_dir, date(2023, 12, 2)
    )
    series = _energy(api, headers, "2023-12-02", "2023-12-03", "quarter", "series").json()["series"]
    offtake = [s for s in series if s["channel"] == "offtake"]
    assert {(s["start"], s["end"], s["resolution_minutes"], len(s["value_wh"])) for s in offtake} == {
        ("2023-12-01T23:00:00Z", "2023-12-02T23:00:00Z", 15, 96)
    }
    assert sum(v for s in offtake for v in s["value_wh"] if v is not None) == _offtake_of_day(
        samples_dir, date(2023, 12, 2)
    )
    assert sum(v is not None for s in series for v in s["value_wh"]) == len(quarters)
    assert _energy(api, headers, "2023-12-02", "2023-12-03", "day", "series").status_code == 422
    # November 2023 is in the mandate's period but C0 lived there: never C1's to grant
    assert _energy(api, headers, "2023-11-20", "2023-12-02").json()["detail"] == "period_not_covered"
    assert _energy(api, headers, "2024-01-01", "2024-02-01", "month").status_code == 200
    peaks = api.get(
        f"/api/v1/access-points/{E1}/peaks",
        params={"from": "2024-01-01", "to": "2024-03-01"},
        headers=headers,
    )
    assert peaks.json()["detail"] == "service_not_covered"
    assert _energy(api, headers, "2024-01-01", "2025-04-01").json()["detail"].startswith("at most")

    mandate_id = created["mandate"]["id"]
    assert api.delete(f"/api/v1/mandates/{mandate_id}", headers=headers).json()["status"] == "revoked"
    assert _energy(api, headers, "2023-12-01", "2024-01-01").json()["detail"] == "mandate_revoked"

    with open_registry(world.settings.registry_url)() as session:
        log = session.execute(
            sa.select(AccessLogEntry.outcome, AccessLogEntry.reason).order_by(AccessLogEntry.id)
        ).all()
        events = session.scalars(sa.select(WebhookDelivery.event).order_by(WebhookDelivery.id)).all()
    assert [(o.value, r) for o, r in log][:3] == [
        ("refused", "mandate_not_approved"),
        ("allowed", None),
        ("allowed", None),
    ]
    assert (log[-1][0].value, log[-1][1]) == ("refused", "mandate_revoked")
    assert events == ["mandate.approved", "mandate.revoked"]


def test_the_access_log_cannot_be_changed(api: TestClient, world: World) -> None:
    headers = provider_token(api, world)
    _energy(api, headers, "2023-12-01", "2024-01-01")
    engine = sa.create_engine(world.settings.registry_url)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(sa.text("UPDATE access_log SET outcome = 'allowed'"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM access_log"))


def test_a_refused_or_unknown_request_and_another_contracts_mandate(api: TestClient, world: World) -> None:
    headers = provider_token(api, world)
    bad = api.post("/api/v1/mandates", json={**MANDATE, "subject": "541448820000000016"}, headers=headers)
    assert bad.status_code == 422 and "subject" in str(bad.json()["detail"])
    past = api.post(
        "/api/v1/mandates", json={**MANDATE, "expires_at": "2025-01-01T00:00:00Z"}, headers=headers
    )
    assert past.status_code == 422
    assert api.get("/api/v1/mandates/nope", headers=headers).status_code == 404
    created = _request(api, headers)
    _approve(world, created["consent_url"])
    # a mandate on E1 opens nothing on E2
    other = api.get(
        f"/api/v1/access-points/{E2}/energy",
        params={"from": "2024-01-01", "to": "2024-01-02"},
        headers=headers,
    )
    assert other.json()["detail"] == "no_mandate"


def test_only_the_grid_user_can_decide_and_polling_sees_changes(api: TestClient, world: World) -> None:
    headers = provider_token(api, world)
    created = _request(api, headers)
    from kwartier.access.mandate_service import NotFound  # noqa: PLC0415

    with pytest.raises(NotFound):
        _approve(world, created["consent_url"], login="ops@dso.example.be")
    before = api.get(
        "/api/v1/mandates", params={"updated_since": "2025-05-01T12:00:00Z"}, headers=headers
    ).json()
    assert [m["id"] for m in before] == [created["mandate"]["id"]]
    later = api.get(
        "/api/v1/mandates", params={"updated_since": "2025-05-01T12:00:01Z"}, headers=headers
    ).json()
    assert later == []


def test_a_household_reads_its_own_periods_with_its_personal_token(api: TestClient, world: World) -> None:
    c1 = {"Authorization": f"Bearer {world.c1_token}"}
    c0 = {"Authorization": f"Bearer {world.c0_token}"}
    held = api.get("/api/v1/me/access-points", headers=c1).json()
    assert held == [{"ean": E1, "data_from": "2023-12-01", "data_to": None}]
    assert api.get("/api/v1/me/access-points", headers=c0).json() == [
        {"ean": E1, "data_from": "2023-10-22", "data_to": "2023-12-01"}
    ]
    assert _energy(api, c1, "2023-12-01", "2023-12-08").status_code == 200
    assert _energy(api, c1, "2023-11-30", "2023-12-08").status_code == 403
    assert _energy(api, c0, "2023-11-01", "2023-12-01").status_code == 200
    assert _energy(api, c0, "2023-12-01", "2023-12-02").json()["detail"] == "period_not_covered"


def test_peaks_and_installation_through_the_api(api: TestClient, world: World) -> None:
    result = CliRunner().invoke(cli, ["billing-refresh", "--home", str(world.settings.home), "--json"])
    assert result.exit_code == 0, result.output
    headers = provider_token(api, world)
    created = _request(api, headers, services=["peaks", "installation"])
    _approve(world, created["consent_url"])
    peaks = api.get(
        f"/api/v1/access-points/{E1}/peaks",
        params={"from": "2023-12-01", "to": "2024-01-01"},
        headers=headers,
    )
    assert peaks.status_code == 200, peaks.text
    (december,) = peaks.json()["months"]
    # tests/billing/test_store_billing: the export's December 2023 peak; billing peak over Oct–Dec
    assert (december["month"], december["peak_w"], december["months_counted"]) == ("2023-12-01", 4268, 3)
    assert december["billing_peak_w"] == 4275 and december["stale"] is False  # (4168 + 4388 + 4268) / 3
    before = api.get(
        f"/api/v1/access-points/{E1}/peaks",
        params={"from": "2023-11-01", "to": "2024-01-01"},
        headers=headers,
    )
    assert before.json()["detail"] == "period_not_covered"
    state = api.get(f"/api/v1/access-points/{E1}/installation", params={"day": "2024-06-01"}, headers=headers)
    assert state.json()["meter"] == {"serial": "M1", "kind": "digital"} and "grid_user" not in state.json()


def test_fair_use_answers_429_with_retry_after(api: TestClient, world: World) -> None:
    headers = provider_token(api, world)
    api.app.state.hub.api_limits = TokenBuckets(rate=0.5, capacity=2)  # type: ignore[attr-defined]
    codes = [api.get("/api/v1/mandates", headers=headers).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = api.get("/api/v1/mandates", headers=headers)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_operators_register_contracts_and_see_usage(api: TestClient, world: World) -> None:
    operator = {"Authorization": f"Bearer {world.operator_token}"}
    body = {"party_code": "5414499000079", "reference": "DAC-2", "valid_from": "2025-01-01"}
    created = api.post("/api/v1/contracts", json=body, headers=operator)
    assert created.status_code == 201 and created.json()["client_secret"].startswith("kwsec_")
    assert api.post("/api/v1/contracts", json=body, headers=operator).status_code == 422
    not_provider = {**body, "reference": "DAC-3", "party_code": "5414499000017"}
    assert api.post("/api/v1/contracts", json=not_provider, headers=operator).status_code == 422
    headers = provider_token(api, world)
    api.get("/api/v1/mandates", headers=headers)
    usage = api.get("/api/v1/operator/usage", headers=operator).json()
    mine = [u for u in usage if u["provider"] == "Inzicht BV"]
    assert mine == [
        {"provider": "Inzicht BV", "call": "GET /mandates", "version": "v1", "calls": 1, "refused": 0}
    ]


def test_rotation_keeps_the_old_client_for_a_grace_period(api: TestClient, world: World) -> None:
    headers = provider_token(api, world)
    rotated = api.post("/api/v1/clients/rotate", headers=headers).json()
    assert rotated["client_id"] != world.credentials.client_id
    new = api.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(rotated["client_id"], rotated["client_secret"]),
    )
    assert new.status_code == 200
    assert provider_token(api, world)  # the old one still works within the grace


def test_a_history_export_runs_on_its_lane_and_equals_the_direct_read(api: TestClient, world: World) -> None:
    headers = provider_token(api, world)
    _approve(world, _request(api, headers)["consent_url"])
    job = api.post(
        "/api/v1/exports",
        json={"ean": E1, "data_from": "2023-12-01", "data_to": "2024-03-01", "granularity": "day"},
        headers=headers,
    )
    assert job.status_code == 202, job.text
    job_id = job.json()["id"]
    deadline = time.monotonic() + 60
    while (state := api.get(f"/api/v1/exports/{job_id}", headers=headers).json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state["status"] == "done", state
    exported = api.get(f"/api/v1/exports/{job_id}/file", headers=headers).json()["rows"]
    direct = _energy(api, headers, "2023-12-01", "2024-03-01").json()["rows"]
    assert exported == direct and state["rows"] == len(direct)
    outside = {"ean": E1, "data_from": "2023-01-01", "data_to": "2023-03-01", "granularity": "day"}
    assert api.post("/api/v1/exports", json=outside, headers=headers).status_code == 403


def test_now_is_the_fixed_clock(api: TestClient) -> None:
    assert api.app.state.hub.now() == NOW  # type: ignore[attr-defined]
    assert isinstance(NOW, datetime)


def test_occupants_see_only_their_own_mandates_and_reads(api: TestClient, world: World) -> None:
    from kwartier.access.access_log import entries_for_customer  # noqa: PLC0415
    from kwartier.access.mandate_service import mandates_of_customer, may_decide  # noqa: PLC0415

    headers = provider_token(api, world)
    c1_request = _request(api, headers, data_from="2023-12-01")
    _approve(world, c1_request["consent_url"])
    c0_request = _request(api, headers, data_from="2023-10-22", data_to="2023-12-01", reference="for-c0")
    _approve(world, c0_request["consent_url"], login="c0@example.be")
    assert (
        _energy(api, headers, "2023-11-01", "2023-11-08").status_code == 200
    )  # C0's days, under C0's mandate
    assert _energy(api, headers, "2023-12-01", "2023-12-08").status_code == 200  # C1's days
    with open_registry(world.settings.registry_url)() as session:
        c0, c1 = account(world, "c0@example.be"), account(world, "c1@example.be")
        assert [g.mandate.id for g in mandates_of_customer(session, c1)] == [c1_request["mandate"]["id"]]
        assert [g.mandate.id for g in mandates_of_customer(session, c0)] == [c0_request["mandate"]["id"]]
        assert [(e.data_from, e.outcome.value) for e in entries_for_customer(session, c1)] == [
            (date(2023, 12, 1), "allowed")
        ]
        assert [(e.data_from, e.outcome.value) for e in entries_for_customer(session, c0)] == [
            (date(2023, 11, 1), "allowed")
        ]
        later = _request(api, headers, data_from="2024-01-01", reference="after-c0")
        from kwartier.registry.data_access import Mandate  # noqa: PLC0415

        pending = session.get(Mandate, later["mandate"]["id"])
        assert pending is not None
        assert may_decide(session, c1, pending) and not may_decide(session, c0, pending)
