"""``POST /api/v1/oauth/token``: OAuth2 client credentials (RFC 6749 §4.4) for providers' clients.

The client authenticates with HTTP Basic or with ``client_id`` and ``client_secret`` in the form body.
Errors follow RFC 6749 §5.2: 400 ``unsupported_grant_type``, 401 ``invalid_client``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kwartier.access.tokens import TokenError, issue_client_token
from kwartier.api.auth import HubDep

router = APIRouter(tags=["authorisation"])


class TokenResponse(BaseModel):
    """A bearer token for the API."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class OAuthError(BaseModel):
    """An OAuth2 error (RFC 6749 §5.2)."""

    error: str


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses={400: {"model": OAuthError}, 401: {"model": OAuthError}},
)
def token(
    request: Request,
    hub: HubDep,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> TokenResponse | JSONResponse:
    """A short-lived access token for a client of a data-access contract."""
    if grant_type != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    credentials = _basic(request) or (client_id or "", client_secret or "")
    try:
        with hub.transaction() as session:
            access_token, lifetime = issue_client_token(session, *credentials, hub.now())
    except TokenError:
        return JSONResponse(
            {"error": "invalid_client"}, status_code=401, headers={"WWW-Authenticate": "Basic"}
        )
    return TokenResponse(access_token=access_token, expires_in=lifetime)
