"""Portal sign-in through the configured OpenID Connect provider (rules in :mod:`kwartier.access.oidc`).

``GET /signin/oidc?next=`` starts a sign-in (state, nonce and PKCE verifier sealed in a cookie that lives
10 minutes and is sent only to ``/signin/oidc``); ``GET /signin/oidc/callback`` checks it, the code and
the ID token, and starts a portal session for the linked account. Any failure answers the sign-in page
with 401 and the generic message; without a configured provider both routes are 404.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Final

import httpx
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from kwartier.access.accounts import start_session
from kwartier.access.oidc import Attempt, OidcClient, OidcError, new_attempt
from kwartier.access.sealing import SealError
from kwartier.portal.web import (
    SESSION_COOKIE,
    HubDep,
    Visitor,
    not_found,
    redirect,
    render,
    safe_next,
    secure_cookies,
    with_headers,
)
from kwartier.registry.data_access import Account

router = APIRouter()

ATTEMPT_COOKIE: Final = "kwartier_oidc"
ATTEMPT_SECONDS: Final = 600
_COOKIE_PATH: Final = "/signin/oidc"


def _provider(hub: HubDep) -> OidcClient:
    if hub.oidc is None:
        raise not_found()
    return hub.oidc


def _callback(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


@router.get("/signin/oidc")
def oidc_start(request: Request, hub: HubDep, next: str | None = None) -> Response:
    """Send the browser to the provider."""
    provider = _provider(hub)
    attempt = new_attempt(safe_next(next))
    response = RedirectResponse(provider.authorization_url(attempt, _callback(request)), status_code=303)
    response.set_cookie(
        ATTEMPT_COOKIE,
        hub.sealer.seal(json.dumps(asdict(attempt))),
        max_age=ATTEMPT_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path=_COOKIE_PATH,
    )
    return with_headers(request, response)


@router.get("/signin/oidc/callback", name="oidc_callback")
def oidc_callback(
    request: Request, hub: HubDep, visitor: Visitor, code: str | None = None, state: str | None = None
) -> Response:
    """Check the provider's answer and sign the linked account in."""
    provider = _provider(hub)
    attempt: Attempt | None = None
    account_token: str | None = None
    try:
        attempt = Attempt(
            **json.loads(hub.sealer.open(request.cookies.get(ATTEMPT_COOKIE, ""), max_age=ATTEMPT_SECONDS))
        )
        if not code or state != attempt.state:
            raise OidcError("the answer is not this sign-in's")
        subject = provider.subject(code, attempt, _callback(request))
        with hub.transaction() as session:
            account = session.scalar(sa.select(Account).where(Account.oidc_subject == subject))
            if account is not None:
                account_token = start_session(session, account, hub.now())
    except (SealError, OidcError, httpx.HTTPError, ValueError, TypeError):
        account_token = None
    if account_token is None or attempt is None:
        target = attempt.next_path if attempt is not None else "/"
        page = render(
            request, visitor, "signin.html", status_code=401, next_path=target, failed=True, login=""
        )
        page.delete_cookie(ATTEMPT_COOKIE, path=_COOKIE_PATH)
        return page
    response = redirect(request, attempt.next_path)
    response.set_cookie(
        SESSION_COOKIE, account_token, httponly=True, samesite="lax", secure=secure_cookies(request), path="/"
    )
    response.delete_cookie(ATTEMPT_COOKIE, path=_COOKIE_PATH)
    return response
