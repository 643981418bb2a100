"""Accounts and portal sessions (issue 6: a real password flow with argon2 hashes and sessions).

Rules:
- a login is an e-mail address, compared case-insensitively (stored lower-case);
- a session lasts :data:`SESSION_LIFETIME` from sign-in and ends at sign-out; the cookie holds the token,
  the registry only its SHA-256;
- a failed sign-in says neither whether the login exists nor which part was wrong;
- an OpenID Connect identity (``issuer|subject``) can be linked to an account instead of a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.access.codes import AccountRole
from kwartier.access.credentials import (
    SESSION_PREFIX,
    hash_secret,
    needs_rehash,
    new_token,
    password_problem,
    token_hash,
    verify_secret,
)
from kwartier.access.sealing import Sealer
from kwartier.registry.data_access import Account, PortalSession

SESSION_LIFETIME: Final = timedelta(hours=12)
LANGUAGES: Final = ("nl", "en")


class AccountError(ValueError):
    """An account that cannot be created as asked (duplicate login, weak password, …)."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: an account (portal session or personal token) or an API client."""

    role: AccountRole
    account_id: int | None
    customer_ref: str | None
    party_id: int | None
    client_id: str | None = None
    contract_id: int | None = None

    @property
    def actor(self) -> str:
        """How the access log names this actor."""
        return f"client:{self.client_id}" if self.client_id else f"account:{self.account_id}"


def create_account(
    session: Session,
    sealer: Sealer,
    *,
    login: str,
    password: str | None,
    role: AccountRole,
    now: datetime,
    customer_ref: str | None = None,
    party_id: int | None = None,
    name: str | None = None,
    language: str = "nl",
    oidc_subject: str | None = None,
) -> Account:
    """A new account (flushed, not committed)."""
    login = login.strip().lower()
    if "@" not in login:
        raise AccountError(f"{login!r}: a login is an e-mail address")
    if password is None and oidc_subject is None:
        raise AccountError("an account needs a password or an OpenID Connect identity")
    if password is not None and (problem := password_problem(password)):
        raise AccountError(problem)
    if language not in LANGUAGES:
        raise AccountError(f"language: one of {', '.join(LANGUAGES)}")
    if role is AccountRole.GRID_USER and not customer_ref:
        raise AccountError("a grid user's account names its customer reference")
    if session.scalar(sa.select(Account.id).where(Account.login == login)) is not None:
        raise AccountError(f"{login}: an account with this login exists")
    account = Account(
        login=login,
        password_hash=hash_secret(password) if password is not None else None,
        oidc_subject=oidc_subject,
        role=role,
        customer_ref=customer_ref,
        party_id=party_id,
        language=language,
        name_sealed=sealer.seal(name) if name else None,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def authenticate(session: Session, login: str, password: str) -> Account | None:
    """The account of ``login`` when ``password`` matches (re-hashing an outdated hash), else None."""
    account = session.scalar(sa.select(Account).where(Account.login == login.strip().lower()))
    if account is None or account.password_hash is None:
        hash_secret(password)  # the same work as a real check: no timing hint that the login is unknown
        return None
    if not verify_secret(account.password_hash, password):
        return None
    if needs_rehash(account.password_hash):
        account.password_hash = hash_secret(password)
    return account


def account_by_oidc(session: Session, issuer: str, subject: str) -> Account | None:
    """The account linked to an OpenID Connect identity."""
    return session.scalar(sa.select(Account).where(Account.oidc_subject == f"{issuer}|{subject}"))


def start_session(session: Session, account: Account, now: datetime) -> str:
    """A new portal session for ``account``; returns the cookie token (shown once)."""
    token = new_token(SESSION_PREFIX)
    session.add(
        PortalSession(
            token_hash=token_hash(token),
            account_id=account.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
            ended_at=None,
        )
    )
    return token


def session_account(session: Session, token: str, now: datetime) -> Account | None:
    """The account of a live session token, None when unknown, ended or expired."""
    row = session.get(PortalSession, token_hash(token))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    return session.get(Account, row.account_id)


def end_session(session: Session, token: str, now: datetime) -> None:
    """Sign out: the session ends now (an unknown token is ignored)."""
    row = session.get(PortalSession, token_hash(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now


def principal_of(account: Account) -> Principal:
    """The :class:`Principal` of a signed-in account."""
    return Principal(
        role=account.role, account_id=account.id, customer_ref=account.customer_ref, party_id=account.party_id
    )


def account_name(sealer: Sealer, account: Account) -> str | None:
    """The account holder's name, unsealed."""
    return sealer.open(account.name_sealed) if account.name_sealed else None
