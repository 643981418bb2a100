"""The provider journey of issue 6, end to end through the real application: the operator registers a
contract with a webhook → the provider requests a mandate → the customer signs in to the portal and
approves → the signed webhook arrives and verifies → data is fetched → the customer revokes in the
portal → the webhook says so and the next read is refused."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from kwartier.access.webhooks import EVENT_HEADER, SIGNATURE_HEADER, SignatureError, verify
from kwartier.server import create_app
from tests.api.conftest import E1, NOW, PASSWORD, PROVIDER, World

Received = list[tuple[dict[str, str], bytes]]


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    """A provider's webhook endpoint on loopback, keeping what it receives."""
    received: Received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks", received
    server.shutdown()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def _event(received: Received, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while len(received) < count:
        assert time.monotonic() < deadline, f"webhook {count} did not arrive"
        time.sleep(0.05)
    headers, body = received[count - 1]
    return {"headers": headers, "body": body, "event": json.loads(body)}


def test_provider_journey(world: World, receiver: tuple[str, Received]) -> None:
    url, received = receiver
    with TestClient(create_app(world.settings, clock=lambda: NOW), follow_redirects=False) as client:
        operator = {"Authorization": f"Bearer {world.operator_token}"}
        contract = client.post(
            "/api/v1/contracts",
            json={
                "party_code": PROVIDER,
                "reference": "DAC-J",
                "valid_from": "2025-01-01",
                "webhook_url": url,
            },
            headers=operator,
        ).json()
        token = client.post(
            "/api/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(contract["client_id"], contract["client_secret"]),
        ).json()["access_token"]
        provider = {"Authorization": f"Bearer {token}"}
        asked = client.post(
            "/api/v1/mandates",
            json={
                "subject": E1,
                "services": ["daily"],
                "data_from": "2023-12-01",
                "data_to": "2024-01-01",
                "expires_at": "2025-11-01T00:00:00Z",
                "reference": "journey",
                "return_url": "https://provider.example/done",
            },
            headers=provider,
        ).json()
        consent = urlparse(asked["consent_url"]).path

        # the customer opens the link, signs in, and approves in one step
        first = client.get(consent)
        assert first.status_code in (302, 303) and "/signin" in first.headers["location"]
        signin_page = client.get(first.headers["location"])
        signed = client.post(
            "/signin",
            data={
                "login": "c1@example.be",
                "password": PASSWORD,
                "next": consent,
                "csrf": _csrf(signin_page.text),
            },
        )
        assert signed.status_code in (302, 303) and signed.headers["location"].endswith(consent)
        page = client.get(consent)
        assert page.status_code == 200 and "Inzicht BV" in page.text
        approved = client.post(consent, data={"decision": "approve", "csrf": _csrf(page.text)})
        assert approved.status_code in (302, 303)
        back = urlparse(approved.headers["location"])
        assert back.netloc == "provider.example"
        assert parse_qs(back.query) == {"mandate_id": [asked["mandate"]["id"]], "status": ["approved"]}

        hook = _event(received, 1)
        verify(contract["webhook_secret"], hook["headers"][SIGNATURE_HEADER.lower()], hook["body"], NOW)
        with pytest.raises(SignatureError):
            verify("another secret", hook["headers"][SIGNATURE_HEADER.lower()], hook["body"], NOW)
        assert hook["headers"][EVENT_HEADER.lower()] == "mandate.approved"
        assert hook["event"]["data"]["mandate"]["status"] == "approved"

        read = client.get(
            f"/api/v1/access-points/{E1}/energy",
            params={"from": "2023-12-01", "to": "2024-01-01"},
            headers=provider,
        )
        assert read.status_code == 200 and len(read.json()["rows"]) > 0

        # the customer sees who read what, and revokes
        my_data = client.get("/my-data")
        assert my_data.status_code == 200 and "Inzicht BV" in my_data.text
        revoked = client.post(
            f"/mandates/{asked['mandate']['id']}/revoke", data={"csrf": _csrf(my_data.text)}
        )
        assert revoked.status_code in (302, 303)
        hook = _event(received, 2)
        verify(contract["webhook_secret"], hook["headers"][SIGNATURE_HEADER.lower()], hook["body"], NOW)
        assert hook["event"]["type"] == "mandate.revoked"

        refused = client.get(
            f"/api/v1/access-points/{E1}/energy",
            params={"from": "2023-12-01", "to": "2024-01-01"},
            headers=provider,
        )
        assert refused.status_code == 403 and refused.json()["detail"] == "mandate_revoked"
        log = client.get("/api/v1/webhooks/deliveries", headers=provider).json()
        assert [(d["event"], d["last_status"]) for d in log] == [
            ("mandate.revoked", 204),
            ("mandate.approved", 204),
        ]
