"""The portal through HTTP: every route signed out, with the wrong role, for another customer's access
point and without its CSRF token, as thoroughly as the positive cases."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.portal.conftest import (
    C0,
    C1,
    E1,
    E2,
    E3,
    NOW,
    OPERATOR,
    ORG,
    ORG_LOGIN,
    RETURN_URL,
    Clock,
    PortalWorld,
)
from tests.portal.pages import sign_in, signed_in

from kwartier.access import user_port
from kwartier.access.tokens import resolve_bearer
from kwartier.capture.mijn_fluvius import read_mijn_fluvius
from kwartier.exposure import meter_data
from kwartier.registry.data_access import AccessLogEntry, ApiUsage, Mandate, UserPortRequest, WebhookDelivery
from kwartier.registry.database import open_registry
from kwartier.server import build_hub

GRID_USER_PAGES = [
    "/access-points",
    f"/access-points/{E1}",
    f"/access-points/{E1}/download.csv",
    "/my-data",
    "/my-data/export.json",
    "/mandates",
    "/tokens",
]


def _session(world: PortalWorld) -> sa.orm.Session:
    return open_registry(world.settings.registry_url)()


def _main(page: str) -> str:
    """The text of a page's <main>, tags removed and spaces folded."""
    body = page.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


# -- signing in and out ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*GRID_USER_PAGES, "/operator/usage", "/consent/kwc_x", "/mandates/x"])
def test_a_signed_out_visitor_is_sent_to_sign_in_and_sees_nothing(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=" + path.replace("?", "%3F")
    assert E1 not in answer.text


@pytest.mark.parametrize(
    "path",
    [
        f"/access-points/{E1}/user-port",
        "/mandates/x/revoke",
        "/tokens",
        "/tokens/x/revoke",
        "/consent/kwc_x",
        "/mandates/x",
    ],
)
def test_a_signed_out_post_changes_nothing(client: TestClient, world: PortalWorld, path: str) -> None:
    answer = client.post(path, data={"action": "open", "decision": "approve", "label": "x"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")
    with _session(world) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(UserPortRequest)) == 0


def test_sign_in_sets_a_protected_cookie_and_a_wrong_password_says_nothing_more(client: TestClient) -> None:
    assert client.get("/").headers["location"] == "/signin"
    wrong = sign_in(client, C1, password="not the password")
    unknown = sign_in(client, "nobody@example.be")
    for answer in (wrong, unknown):
        assert answer.status_code == 401 and "kwartier_session" not in answer.headers.get("set-cookie", "")
        assert "Aanmelden is niet gelukt. Controleer uw e-mailadres en wachtwoord." in answer.text
    assert _main(wrong.text) == _main(unknown.text).replace("nobody@example.be", C1)
    answer = sign_in(client, C1.upper(), next_path=f"/access-points/{E1}")
    assert answer.status_code == 303 and answer.headers["location"] == f"/access-points/{E1}"
    cookie = answer.headers["set-cookie"]
    assert "kwartier_session=kws_" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in the test; see the https test
    assert client.get("/").headers["location"] == "/access-points"


def test_the_session_cookie_is_secure_over_https(world: PortalWorld, clock: Clock) -> None:
    from kwartier.server import create_app  # noqa: PLC0415

    with TestClient(
        create_app(world.settings, clock=clock), base_url="https://portal.example", follow_redirects=False
    ) as secure:
        answer = sign_in(secure, C1)
        assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_after_sign_in_only_a_local_page(client: TestClient, target: str) -> None:
    answer = sign_in(client, C1, next_path=target)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_sign_in_without_its_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/signin")
    answer = client.post("/signin", data={"login": C1, "password": "correct horse battery"})
    assert answer.status_code == 403 and "kwartier_session" not in answer.headers.get("set-cookie", "")
    forged = client.post(
        "/signin", data={"login": C1, "password": "correct horse battery", "csrf": "forged-value"}
    )
    assert forged.status_code == 403


def test_sign_out_ends_the_session_in_the_registry(client: TestClient) -> None:
    csrf = signed_in(client, C1)
    cookie = client.cookies.get("kwartier_session")
    assert client.post("/signout", data={}).status_code == 403  # no CSRF token: still signed in
    assert client.get("/access-points").status_code == 200
    answer = client.post("/signout", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/signin"
    assert cookie is not None
    client.cookies.set("kwartier_session", cookie)  # replaying the old cookie does not help
    assert client.get("/access-points").status_code == 303


def test_an_expired_session_is_sent_to_sign_in(client: TestClient, clock: Clock) -> None:
    signed_in(client, C1)
    clock.now = NOW + timedelta(hours=13)
    assert client.get("/access-points").status_code == 303


# -- roles --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GRID_USER_PAGES)
def test_an_operator_sees_no_grid_user_page(client: TestClient, path: str) -> None:
    signed_in(client, OPERATOR)
    answer = client.get(path)
    assert answer.status_code == 403 and E1 not in _main(answer.text)


def test_a_grid_user_sees_no_operator_page(client: TestClient) -> None:
    signed_in(client, C1)
    assert client.get("/operator/usage").status_code == 403


def test_the_operator_sees_api_use_per_provider_call_and_version(
    client: TestClient, world: PortalWorld
) -> None:
    with _session(world) as session, session.begin():
        client_id = session.scalar(sa.text("SELECT client_id FROM api_clients"))
        for day, call, version, calls, refused in (
            (date(2025, 4, 30), "GET /access-points/{ean}/energy", "v1", 120, 3),
            (date(2025, 4, 2), "GET /mandates", "v1", 7, 0),
            (date(2025, 3, 1), "GET /mandates", "v1", 1000, 0),  # outside the 30 days
        ):
            session.add(
                ApiUsage(
                    day=day, client_id=client_id, call=call, version=version, calls=calls, refused=refused
                )
            )
    assert signed_in(client, OPERATOR)
    assert client.get("/").headers["location"] == "/operator/usage"
    text = _main(client.get("/operator/usage").text)
    assert "Inzicht BV 127 3" in text  # per provider: 120 + 7 within the window
    assert "GET /access-points/{ean}/energy 120 3" in text and "GET /mandates 7 0" in text
    assert "v1 127 3" in text and "1007" not in text


# -- access points ------------------------------------------------------------------------------------------


def test_the_list_shows_own_access_points_with_freshness(client: TestClient) -> None:
    signed_in(client, C1)
    text = _main(client.get("/access-points").text)
    assert E1 in text and E2 not in text and E3 not in text
    assert "Op uw naam sinds 2023-12-01" in text
    assert "Volledig tot en met 2025-04-28" in text and "1 dag(en) nog deels geschat" in text


def test_a_predecessor_sees_its_period_and_no_freshness_of_today(client: TestClient) -> None:
    signed_in(client, C0)
    text = _main(client.get("/access-points").text)
    assert "Op uw naam van 2023-10-22 tot 2023-12-01" in text and "Volledig" not in text


def test_an_organisation_sees_all_its_access_points(client: TestClient) -> None:
    signed_in(client, ORG_LOGIN)
    page = client.get("/access-points")
    text = _main(page.text)
    assert E2 in text and E3 in text and E1 not in text
    assert '<html lang="en">' in page.text and "In your name since 2024-06-01" in text


@pytest.mark.parametrize("login", [C1, ORG_LOGIN])
@pytest.mark.parametrize(
    "path",
    [
        "/access-points/{ean}",
        "/access-points/{ean}?view=day",
        "/access-points/{ean}/download.csv?start=2023-10-01&end=2024-01-01",
    ],
)
def test_another_customers_access_point_is_404_without_data(
    client: TestClient, login: str, path: str
) -> None:
    signed_in(client, login)
    other = E2 if login == C1 else E1
    answer = client.get(path.format(ean=other))
    assert answer.status_code == 404 and "kWh" not in answer.text and "Stroom NV" not in answer.text
    assert "Deze pagina bestaat niet" in answer.text or "This page does not exist" in answer.text


@pytest.mark.parametrize("ean", ["541448820000000016", "not-an-ean", "5414488200000000159"])
def test_an_unknown_or_malformed_ean_is_404(client: TestClient, ean: str) -> None:
    signed_in(client, C1)
    assert client.get(f"/access-points/{ean}").status_code == 404


def _history_labels(page: str) -> list[str]:
    return re.findall(r'<th scope="row" data-label="(?:Periode|Period)">([^<]+)</th>', page)


def test_history_holds_only_the_customers_own_days(client: TestClient, world: PortalWorld) -> None:
    signed_in(client, C0)
    predecessor = client.get(f"/access-points/{E1}?view=month")
    assert _history_labels(predecessor.text) == ["2023-10", "2023-11"]
    assert "Stroom NV" in predecessor.text
    days = _history_labels(client.get(f"/access-points/{E1}?view=day&month=2023-12").text)
    assert days == []
    client.cookies.clear()
    signed_in(client, C1)
    own = client.get(f"/access-points/{E1}?view=month")
    assert _history_labels(own.text) == ["2023-12", "2025-04"]
    days = _history_labels(client.get(f"/access-points/{E1}?view=day&month=2023-11").text)
    assert days == []
    december = _history_labels(client.get(f"/access-points/{E1}?view=day&month=2023-12").text)
    assert december[0] == "2023-12-01" and len(december) == 31
    assert _history_labels(client.get(f"/access-points/{E1}?view=year").text) == ["2023", "2025"]
    weeks = _history_labels(client.get(f"/access-points/{E1}?view=week&year=2023").text)
    assert weeks[0] == "48 · 2023-11-27"  # the week of 2023-12-01, with only C1's days in it
    assert "Geen kwartierwaarden voor deze dag." in client.get(f"/access-points/{E1}?day=2023-11-20").text


def test_month_totals_equal_the_exported_totals(client: TestClient, world: PortalWorld) -> None:
    signed_in(client, C1)
    page = client.get(f"/access-points/{E1}?view=month").text
    hub = build_hub(world.settings)
    from kwartier.domain.channels import Energy  # noqa: PLC0415
    from kwartier.exposure.export import Granularity  # noqa: PLC0415

    totals = meter_data.energy(
        hub, E1, Energy.ELECTRICITY, date(2023, 12, 1), date(2024, 1, 1), Granularity.MONTH
    )
    for row in totals.to_pylist():
        whole, part = divmod(row["value"], 1000)
        assert f">{whole}.{part:03d}<" in page


@pytest.mark.parametrize("view", ["decade", ""])
def test_an_unknown_view_or_day_is_400(client: TestClient, view: str) -> None:
    signed_in(client, C1)
    assert client.get(f"/access-points/{E1}?view={view}").status_code == 400
    assert client.get(f"/access-points/{E1}?day=2025-02-30").status_code == 400


def test_the_quarter_chart_tells_estimated_from_measured(client: TestClient) -> None:
    signed_in(client, C1)
    page = client.get(f"/access-points/{E1}?day=2025-04-28").text
    assert "96 kwartieren, waarvan 24 geschat" in page
    chart = page.split('aria-labelledby="qh-title qh-desc"', 1)[1].split("</svg>", 1)[0]
    assert chart.count('fill="url(#qh-hatch-offtake)"') == 24  # hatched, not only another colour
    assert chart.count("<circle") == 24  # and a dot on each estimated bar
    assert chart.count('fill="#1f5f8b"') == 72 + 1  # measured bars, plus the offtake hatch pattern
    table = page.split("Tabel met de kwartierwaarden", 1)[1]
    assert table.count('class="est">geschat') == 24 and table.count(">gemeten<") == 72
    assert '<td>18:00</td><td class="num">0.250</td>' in table


def test_peaks_count_only_the_customers_months_and_are_explained(
    client: TestClient, world: PortalWorld
) -> None:
    hub = build_hub(world.settings)
    kept = {row["month"]: row for row in meter_data.peaks(hub, E1)}
    december = kept[date(2023, 12, 1)]
    assert (december["peak_w"], december["billing_peak_w"]) == (4268, 4275)  # with C0's October, November
    signed_in(client, C1)
    text = _main(client.get(f"/access-points/{E1}").text)
    peaks = text.split("Capaciteitstarief: pieken", 1)[1].split("Gebruikerspoort", 1)[0]
    assert "2023-12 4.268 2023-12-06 18:45 4.268" in peaks
    assert "2023-10" not in peaks and "2023-11" not in peaks and "4.275" not in peaks
    # the newest month leads: April 2025 alone in its 12 months, below the 2.5 kW floor
    assert "Gemiddelde maandpiek: 2.500 kW (gemiddelde over 1 maand(en))" in peaks
    assert "De maandpiek is het hoogste kwartier van de maand" in peaks


def test_a_classic_meter_has_a_flat_capacity_tariff(client: TestClient) -> None:
    signed_in(client, ORG_LOGIN)
    text = _main(client.get(f"/access-points/{E2}").text)
    assert "classic meter (M2)" in text and "flat 2.5 kW" in text
    pv = _main(client.get(f"/access-points/{E3}").text)
    assert "pv, 3.0 kVA, in service since 2021-06-01" in pv


def test_the_download_imports_back_and_holds_only_own_days(
    client: TestClient, world: PortalWorld, tmp_path: Path
) -> None:
    signed_in(client, C1)
    answer = client.get(f"/access-points/{E1}/download.csv?start=2023-11-25&end=2023-12-03")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    path = tmp_path / "export.csv"
    path.write_bytes(answer.content)
    captured = read_mijn_fluvius(path)
    assert not captured.rejections
    starts = captured.readings.column("start").to_pylist()
    assert min(starts) == datetime(2023, 11, 30, 23, tzinfo=UTC)  # 2023-12-01 00:00 in Brussels
    assert max(starts) < datetime(2023, 12, 2, 23, tzinfo=UTC)
    assert set(captured.readings.column("ean").to_pylist()) == {E1}
    with _session(world) as session:
        logged = session.scalars(
            sa.select(AccessLogEntry).where(AccessLogEntry.route == "portal:download.csv")
        )
        assert [(e.ean, e.service, e.outcome.value) for e in logged] == [(E1, "quarter_hour", "allowed")]
    log = _main(client.get("/my-data").text)
    assert "uzelf" in log and "kwartier- en uurwaarden" in log


@pytest.mark.parametrize(
    "query", ["start=2024-01-02&end=2024-01-01", "start=2020-01-01&end=2025-01-01", "start=x"]
)
def test_a_bad_download_range_is_400(client: TestClient, query: str) -> None:
    signed_in(client, C1)
    assert client.get(f"/access-points/{E1}/download.csv?{query}").status_code == 400


# -- user port ----------------------------------------------------------------------------------------------


def test_the_user_port_opens_within_24_hours_and_reminds_before_it_closes(
    client: TestClient, world: PortalWorld, clock: Clock
) -> None:
    csrf = signed_in(client, C1)
    page = client.get(f"/access-points/{E1}").text
    assert "Nog nooit gevraagd: gesloten" in page
    until = (NOW + timedelta(days=30)).date()
    answer = client.post(
        f"/access-points/{E1}/user-port",
        data={"action": "open", "open_until": until.isoformat(), "csrf": csrf},
    )
    assert answer.status_code == 303
    text = _main(client.get(answer.headers["location"]).text)
    assert "Uw vraag om de poort te openen wordt uiterlijk 2025-05-02 14:00 uitgevoerd." in text
    again = client.post(f"/access-points/{E1}/user-port", data={"action": "close", "csrf": csrf})
    assert again.status_code == 400  # one request at a time
    with _session(world) as session, session.begin():
        done = user_port.execute_due(session, NOW + timedelta(hours=3))  # the simulated head-end
        assert [(r.ean, r.action.value, r.status.value) for r in done] == [(E1, "open", "done")]
    text = _main(client.get(f"/access-points/{E1}").text)
    assert f"Open tot {until}" in text and "sluit op" not in text
    clock.now = NOW + timedelta(days=20)
    signed_in(client, C1)
    assert f"Let op: uw gebruikerspoort sluit op {until}." in client.get(f"/access-points/{E1}").text
    with _session(world) as session, session.begin():
        assert [r.ean for r in user_port.reminders_due(session, clock.now)] == [E1]
        assert user_port.reminders_due(session, clock.now) == []  # once
    clock.now = NOW + timedelta(days=31)
    signed_in(client, C1)
    assert "Gesloten" in _main(client.get(f"/access-points/{E1}").text)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"action": "wide-open"}, 400),
        ({"action": "open", "open_until": "2025-04-30"}, 400),  # not after today
        ({"action": "open", "open_until": "someday"}, 400),
    ],
)
def test_a_bad_user_port_request_is_refused(
    client: TestClient, world: PortalWorld, data: dict[str, str], status: int
) -> None:
    csrf = signed_in(client, C1)
    assert client.post(f"/access-points/{E1}/user-port", data={**data, "csrf": csrf}).status_code == status
    with _session(world) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(UserPortRequest)) == 0


@pytest.mark.parametrize(("login", "ean"), [(C0, E1), (C1, E2), (ORG_LOGIN, E1)])
def test_only_the_current_grid_user_asks_for_the_port(
    client: TestClient, world: PortalWorld, login: str, ean: str
) -> None:
    csrf = signed_in(client, login)
    assert (
        client.post(f"/access-points/{ean}/user-port", data={"action": "open", "csrf": csrf}).status_code
        == 404
    )
    assert client.post(f"/access-points/{E1}/user-port", data={"action": "open"}).status_code in (403, 404)
    with _session(world) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(UserPortRequest)) == 0


# -- who has my data, mandates and consent -----------------------------------------------------------------


def test_who_has_my_data_shows_own_mandates_and_never_a_predecessors(client: TestClient) -> None:
    signed_in(client, C1)
    text = _main(client.get("/my-data").text)
    assert "Inzicht BV" in text and "order-17" in text and "aangevraagd" in text
    assert "predecessor-secret-ref" not in text
    assert "Stroom NV — maandwaarden (SMR1)" in text
    client.cookies.clear()
    signed_in(client, C0)
    text = _main(client.get("/my-data").text)
    assert "predecessor-secret-ref" in text and "Intrekken" in text and "2023-10-22 – 2023-12-01" in text


def test_a_grid_user_revokes_a_mandate_and_the_provider_is_told(
    client: TestClient, world: PortalWorld
) -> None:
    csrf = signed_in(client, C1)
    assert client.post(f"/mandates/{world.c0_mandate}/revoke", data={"csrf": csrf}).status_code == 404
    client.cookies.clear()
    csrf = signed_in(client, C0)
    assert client.post(f"/mandates/{world.c0_mandate}/revoke", data={}).status_code == 403
    answer = client.post(f"/mandates/{world.c0_mandate}/revoke", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/my-data?revoked=1"
    assert "De machtiging is ingetrokken" in client.get(answer.headers["location"]).text
    with _session(world) as session:
        mandate = session.get(Mandate, world.c0_mandate)
        assert mandate is not None and mandate.status.value == "revoked"
        events = session.scalars(sa.select(WebhookDelivery.event)).all()
        assert "mandate.revoked" in events
    assert client.post(f"/mandates/{world.c0_mandate}/revoke", data={"csrf": csrf}).status_code == 409


def test_a_consent_link_opened_signed_out_goes_through_sign_in_and_back(
    client: TestClient, world: PortalWorld
) -> None:
    link = f"/consent/{world.consent}"
    answer = client.get(link)
    assert answer.status_code == 303
    signin_page = client.get(answer.headers["location"])
    assert "Meld u aan om de aanvraag te bekijken." in signin_page.text
    next_path = parse_qs(urlsplit(answer.headers["location"]).query)["next"][0]
    assert sign_in(client, C1, next_path=next_path).headers["location"] == link
    text = _main(client.get(link).text)
    for shown in (
        "Inzicht BV vraagt toegang",
        "dag- en maandwaarden",
        "kwartier- en uurwaarden",
        f"aansluiting {E1}",
        "2024-01-01 – 2025-05-01",
        "2026-05-01 14:00",
        "order-17",
    ):
        assert shown in text


def test_approving_returns_to_the_provider_and_queues_the_webhook(
    client: TestClient, world: PortalWorld
) -> None:
    csrf = signed_in(client, C1)
    link = f"/consent/{world.consent}"
    assert client.post(link, data={"decision": "approve"}).status_code == 403  # no CSRF token
    assert client.post(link, data={"decision": "maybe", "csrf": csrf}).status_code == 400
    answer = client.post(link, data={"decision": "approve", "csrf": csrf})
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}{target.path}" == RETURN_URL.split("?")[0]
    assert query["session"] == ["7"] and query["status"] == ["approved"]
    with _session(world) as session:
        mandate = session.get(Mandate, query["mandate_id"][0])
        assert mandate is not None and mandate.status.value == "approved"
        assert "mandate.approved" in session.scalars(sa.select(WebhookDelivery.event)).all()
    assert client.post(link, data={"decision": "refuse", "csrf": csrf}).status_code == 409
    assert "Over deze aanvraag werd al beslist (actief)." in client.get(link).text
    assert "Intrekken" in client.get("/my-data").text


def test_refusing_without_a_return_url_goes_to_who_has_my_data(
    client: TestClient, world: PortalWorld
) -> None:
    csrf = signed_in(client, ORG_LOGIN)
    waiting = _main(client.get("/mandates").text)
    assert "Inzicht BV" in waiting and "peaks (capacity tariff)" in waiting
    with _session(world) as session:
        mandate_id = session.scalars(sa.select(Mandate.id).where(Mandate.subject == ORG)).one()
    page = client.get(f"/mandates/{mandate_id}").text
    assert f"every access point of enterprise {ORG}" in page and "fleet-3" in page
    answer = client.post(f"/mandates/{mandate_id}", data={"decision": "refuse", "csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/my-data"
    assert "There are no pending requests." in client.get("/mandates").text


@pytest.mark.parametrize("login", [ORG_LOGIN, OPERATOR])
def test_a_consent_link_for_someone_else_shows_nothing(
    client: TestClient, world: PortalWorld, login: str
) -> None:
    csrf = signed_in(client, login)
    page = client.get(f"/consent/{world.consent}")
    assert page.status_code in (403, 404) and "order-17" not in page.text
    answer = client.post(f"/consent/{world.consent}", data={"decision": "approve", "csrf": csrf})
    assert answer.status_code in (403, 404)
    with _session(world) as session:
        assert session.scalar(sa.select(sa.func.count()).where(Mandate.status == "approved")) == 1  # C0's own


def test_an_unknown_consent_link_is_404(client: TestClient) -> None:
    csrf = signed_in(client, C1)
    assert client.get("/consent/kwc_unknown").status_code == 404
    assert client.post("/consent/kwc_unknown", data={"decision": "approve", "csrf": csrf}).status_code == 404
    assert client.get("/mandates/00000000-0000-0000-0000-000000000000").status_code == 404


def test_an_expired_request_cannot_be_approved(client: TestClient, world: PortalWorld, clock: Clock) -> None:
    clock.now = NOW + timedelta(days=366)
    csrf = signed_in(client, C1)
    assert "Deze aanvraag is verlopen." in client.get(f"/consent/{world.consent}").text
    assert (
        client.post(f"/consent/{world.consent}", data={"decision": "approve", "csrf": csrf}).status_code
        == 410
    )


def test_the_export_holds_everything_on_the_customer_and_nothing_of_others(
    client: TestClient, world: PortalWorld
) -> None:
    csrf = signed_in(client, C1)
    client.post("/tokens", data={"label": "Home Assistant", "csrf": csrf})
    answer = client.get("/my-data/export.json")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    document = json.loads(answer.text)
    assert document["account"]["login"] == C1 and document["account"]["customer_ref"] == "C1"
    assert document["access_points"] == [{"ean": E1, "periods": [{"from": "2023-12-01", "to": None}]}]
    assert [m["reference"] for m in document["mandates"]] == ["order-17"]
    assert sorted(t["label"] for t in document["personal_tokens"]) == ["Home Assistant", "tests"]
    assert document["portal_sessions"] and "token_hash" not in answer.text and "kwp_" not in answer.text
    assert "predecessor-secret-ref" not in answer.text and "C0" not in answer.text


# -- personal tokens ----------------------------------------------------------------------------------------


def test_a_household_creates_a_token_sees_it_once_and_revokes_it(
    client: TestClient, world: PortalWorld
) -> None:
    csrf = signed_in(client, C1)
    assert client.post("/tokens", data={"label": "HA"}).status_code == 403
    created = client.post("/tokens", data={"label": "Home Assistant", "csrf": csrf})
    assert created.status_code == 201
    token = re.search(r'id="token-value">(kwp_[^<]+)<', created.text)
    assert token is not None
    listing = client.get("/tokens").text
    assert "Home Assistant" in listing and token.group(1) not in listing
    with _session(world) as session:
        principal = resolve_bearer(session, token.group(1), NOW)
        assert principal is not None and principal.customer_ref == "C1"
    ids = re.findall(r'action="/tokens/([0-9a-f]{64})/revoke"', listing)
    assert len(ids) == 2
    client.cookies.clear()
    other = signed_in(client, C0)
    assert client.post(f"/tokens/{ids[0]}/revoke", data={"csrf": other}).status_code == 404
    client.cookies.clear()
    csrf = signed_in(client, C1)
    for token_id in ids:
        assert client.post(f"/tokens/{token_id}/revoke", data={"csrf": csrf}).status_code == 303
    assert "U hebt nog geen sleutels." in client.get("/tokens").text
    with _session(world) as session:
        assert resolve_bearer(session, token.group(1), NOW) is None


@pytest.mark.parametrize("label", ["", " ", "x" * 101])
def test_a_token_needs_a_name(client: TestClient, label: str) -> None:
    csrf = signed_in(client, C1)
    answer = client.post("/tokens", data={"label": label, "csrf": csrf})
    assert answer.status_code == 400 and "kwp_" not in answer.text


# -- language, headers, assets ------------------------------------------------------------------------------


def test_the_language_follows_the_browser_the_switch_and_the_account(
    client: TestClient, world: PortalWorld
) -> None:
    english = client.get("/signin", headers={"Accept-Language": "en-GB,en;q=0.9,nl;q=0.5"})
    assert '<html lang="en">' in english.text and "E-mail address" in english.text
    dutch = client.get("/signin", headers={"Accept-Language": "fr, nl;q=0.8"})
    assert '<html lang="nl">' in dutch.text and 'lang="en">English</button>' in dutch.text
    csrf = signed_in(client, C1)
    answer = client.post("/language", data={"language": "en", "next": "/my-data", "csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/my-data"
    client.cookies.delete("kwartier_lang")
    assert "Who has my data" in client.get("/my-data").text  # kept as the account's choice
    assert client.post("/language", data={"language": "fr", "csrf": csrf}).status_code == 400
    assert client.post("/language", data={"language": "nl"}).status_code == 403


def test_pages_carry_security_headers_and_assets_are_served_locally(client: TestClient) -> None:
    signed_in(client, C1)
    page = client.get(f"/access-points/{E1}")
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "http://" not in page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page.text and 'href="/static/portal.css"' in page.text
    css = client.get("/static/portal.css")
    assert css.status_code == 200 and "--offtake" in css.text and len(css.content) < 12_000
    assert '<a class="skip" href="#main">' in page.text
    for field in re.findall(r'<input [^>]*type="(?:text|email|password|date)"[^>]*>', page.text):
        name = re.search(r'id="([^"]+)"', field)
        assert name is not None and f'for="{name.group(1)}"' in page.text


def test_the_portal_is_not_in_the_openapi_description(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not [path for path in paths if not path.startswith("/api/v1")]


def test_password_guessing_is_slowed_per_login(client: TestClient, clock: Clock) -> None:
    for _ in range(10):
        assert sign_in(client, C1, password="guess guess guess").status_code == 401
    blocked = sign_in(client, C1)  # even the right password is not checked now
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) == 30
    assert "kwartier_session" not in blocked.headers.get("set-cookie", "")
    assert sign_in(client, C0).status_code == 303  # another login is not slowed
    client.cookies.clear()
    clock.now = NOW + timedelta(seconds=30)
    assert sign_in(client, C1).status_code == 303


def test_a_provider_account_has_no_portal(client: TestClient, world: PortalWorld) -> None:
    from kwartier.access.accounts import create_account  # noqa: PLC0415
    from kwartier.access.codes import AccountRole  # noqa: PLC0415
    from kwartier.access.sealing import Sealer  # noqa: PLC0415

    with _session(world) as session, session.begin():
        create_account(
            session,
            Sealer.from_settings(world.settings),
            login="dev@inzicht.example",
            password="a long enough password",
            role=AccountRole.PROVIDER,
            now=NOW,
        )
    assert sign_in(client, "dev@inzicht.example", password="a long enough password").status_code == 303
    assert client.get("/").status_code == 403
    for path in ("/access-points", "/my-data", "/operator/usage", "/tokens"):
        assert client.get(path).status_code == 403
