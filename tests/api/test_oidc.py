"""Portal sign-in through an OpenID Connect provider: a real provider on loopback (discovery, authorize,
token with PKCE, JWKS, RS256 ID tokens), the account linked to ``issuer|sub``, and every way a sign-in
must fail: a forged state, an unlinked identity, a token signed with another key, a wrong nonce."""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse
from fastapi.testclient import TestClient

from kwartier.access.accounts import create_account
from kwartier.access.codes import AccountRole
from kwartier.registry.database import open_registry
from kwartier.server import create_app
from tests.api.conftest import NOW, World

CLIENT_ID = "kwartier-portal"
CLIENT_SECRET = "s3cret"


class Provider:
    """A minimal OpenID Connect provider; ``behaviour`` makes it misbehave on purpose."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.behaviour: dict[str, Any] = {"sub": "alice"}
        self.codes: dict[str, dict[str, str]] = {}
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.app = self._app()

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, str]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
            }

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            query = dict(request.query_params)
            assert query["client_id"] == CLIENT_ID and query["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = query
            back = {"code": code, "state": query["state"]}
            return RedirectResponse(f"{query['redirect_uri']}?{urlencode(back)}", status_code=302)

        @app.post("/token")
        def token(
            request: Request, code: str = Form(), code_verifier: str = Form(), redirect_uri: str = Form()
        ) -> dict[str, str]:
            asked = self.codes.pop(code)
            digest = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=")
            assert digest.decode() == asked["code_challenge"] and redirect_uri == asked["redirect_uri"]
            assert request.headers["authorization"].startswith("Basic ")
            claims = {
                "iss": self.issuer,
                "sub": self.behaviour["sub"],
                "aud": CLIENT_ID,
                "iat": int(time.time()),
                "exp": int(time.time()) + 300,
                "nonce": self.behaviour.get("nonce", asked["nonce"]),
            }
            key = self.other_key if self.behaviour.get("forge") else self.key
            return {
                "id_token": jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"}),
                "token_type": "Bearer",
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

        return app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def provider() -> Iterator[Provider]:
    served = Provider()
    server = uvicorn.Server(
        uvicorn.Config(served.app, host="127.0.0.1", port=served.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield served
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def portal(world: World, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("KWARTIER_OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("KWARTIER_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("KWARTIER_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    app = create_app(world.settings, clock=lambda: NOW)
    with open_registry(world.settings.registry_url)() as session, session.begin():
        create_account(
            session,
            app.state.hub.sealer,
            login="alice@example.be",
            password=None,
            role=AccountRole.GRID_USER,
            now=NOW,
            customer_ref="C1",
            oidc_subject=f"{provider.issuer}|alice",
        )
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _sign_in(client: TestClient, *, tamper_state: bool = False) -> httpx.Response:
    start = client.get("/signin/oidc", params={"next": "/access-points"})
    assert start.status_code == 303
    at_provider = httpx.get(start.headers["location"])  # the browser at the provider
    assert at_provider.status_code == 302
    back = urlparse(at_provider.headers["location"])
    query = parse_qs(back.query)
    if tamper_state:
        query["state"] = ["forged"]
    answer: httpx.Response = client.get(back.path, params={k: v[0] for k, v in query.items()})
    return answer


def test_a_linked_identity_signs_in_and_sees_its_access_points(portal: TestClient) -> None:
    assert "/signin/oidc" in portal.get("/signin").text
    done = _sign_in(portal)
    assert done.status_code == 303 and done.headers["location"] == "/access-points"
    assert portal.get("/access-points").status_code == 200


@pytest.mark.parametrize(
    "behaviour",
    [{"sub": "mallory"}, {"sub": "alice", "forge": True}, {"sub": "alice", "nonce": "replayed"}],
    ids=["unlinked identity", "token signed with another key", "wrong nonce"],
)
def test_an_untrusted_answer_signs_nobody_in(
    portal: TestClient, provider: Provider, behaviour: dict[str, Any]
) -> None:
    provider.behaviour = behaviour
    refused = _sign_in(portal)
    assert refused.status_code == 401 and "kwartier_session" not in refused.cookies
    assert portal.get("/access-points").status_code in (302, 303)


def test_a_forged_state_signs_nobody_in(portal: TestClient) -> None:
    assert _sign_in(portal, tamper_state=True).status_code == 401


def test_without_a_provider_the_routes_do_not_exist(world: World) -> None:
    with TestClient(create_app(world.settings, clock=lambda: NOW), follow_redirects=False) as client:
        assert client.get("/signin/oidc").status_code == 404
        assert "/signin/oidc" not in client.get("/signin").text
