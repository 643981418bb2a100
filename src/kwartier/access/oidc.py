"""Sign-in through an OpenID Connect provider (issue 6: "an OpenID Connect provider can be plugged in for
a production identity service"): the authorization-code flow with PKCE, as a relying party.

Rules (OpenID Connect Core 1.0 §3.1, RFC 7636):
- the provider is configured by ``KWARTIER_OIDC_ISSUER``, ``KWARTIER_OIDC_CLIENT_ID`` and
  ``KWARTIER_OIDC_CLIENT_SECRET``; its endpoints come from ``<issuer>/.well-known/openid-configuration``;
- each sign-in gets a fresh ``state``, ``nonce`` and PKCE verifier (S256), kept sealed in a short-lived
  cookie; the callback must return the same state;
- the ID token's signature is checked against the provider's JWKS (RS256 or ES256), and its issuer,
  audience (our client id), expiry and nonce; only then is its ``sub`` trusted;
- a provider identity signs in only the account it was linked to (``issuer|sub`` in
  ``accounts.oidc_subject``, set by the operator); an unknown identity gets no account.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import jwt

ALGORITHMS: Final = ["RS256", "ES256"]
TIMEOUT: Final = 10.0


class OidcError(ValueError):
    """A sign-in through the provider that must not be trusted (why is in the message)."""


@dataclass(frozen=True)
class OidcSettings:
    """Where the provider is and who we are to it."""

    issuer: str
    client_id: str
    client_secret: str


def oidc_settings() -> OidcSettings | None:
    """The provider of the environment, None when none is configured."""
    issuer = os.environ.get("KWARTIER_OIDC_ISSUER")
    client_id = os.environ.get("KWARTIER_OIDC_CLIENT_ID")
    if not issuer or not client_id:
        return None
    return OidcSettings(issuer.rstrip("/"), client_id, os.environ.get("KWARTIER_OIDC_CLIENT_SECRET", ""))


@dataclass(frozen=True)
class Attempt:
    """One sign-in in progress: what the callback must match."""

    state: str
    nonce: str
    verifier: str
    next_path: str


def new_attempt(next_path: str) -> Attempt:
    """Fresh state, nonce and PKCE verifier (each 256 random bits)."""
    return Attempt(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48), next_path)


def challenge(verifier: str) -> str:
    """The PKCE S256 code challenge of ``verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OidcClient:
    """The relying party of one provider; the discovery document and keys are fetched once."""

    def __init__(self, settings: OidcSettings, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.Client(timeout=TIMEOUT)
        self._discovery: dict[str, Any] | None = None
        self._keys: jwt.PyJWKClient | None = None

    def discovery(self) -> dict[str, Any]:
        """The provider's metadata (its issuer must be the configured one)."""
        if self._discovery is None:
            response = self._http.get(f"{self.settings.issuer}/.well-known/openid-configuration")
            response.raise_for_status()
            document: dict[str, Any] = response.json()
            if document.get("issuer", "").rstrip("/") != self.settings.issuer:
                raise OidcError("the provider's discovery document names another issuer")
            self._discovery = document
        return self._discovery

    def authorization_url(self, attempt: Attempt, redirect_uri: str) -> str:
        """Where to send the browser to sign in."""
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid email",
            "state": attempt.state,
            "nonce": attempt.nonce,
            "code_challenge": challenge(attempt.verifier),
            "code_challenge_method": "S256",
        }
        return f"{self.discovery()['authorization_endpoint']}?{urlencode(query)}"

    def subject(self, code: str, attempt: Attempt, redirect_uri: str) -> str:
        """Exchange the code for an ID token, check it, and return ``issuer|sub``."""
        metadata = self.discovery()
        response = self._http.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": attempt.verifier,
                "client_id": self.settings.client_id,
            },
            auth=(self.settings.client_id, self.settings.client_secret),
        )
        if response.status_code != 200:
            raise OidcError(f"the provider refused the code ({response.status_code})")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the provider returned no ID token")
        if self._keys is None:
            self._keys = jwt.PyJWKClient(metadata["jwks_uri"])
        try:
            key = self._keys.get_signing_key_from_jwt(id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.settings.client_id,
                issuer=metadata["issuer"],
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as error:
            raise OidcError(f"the ID token does not verify: {error}") from error
        if claims.get("nonce") != attempt.nonce:
            raise OidcError("the ID token's nonce is not this sign-in's")
        return f"{self.settings.issuer}|{claims['sub']}"
