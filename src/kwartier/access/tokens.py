"""Bearer tokens: providers' client-credentials tokens and households' personal tokens (issue 6).

Rules:
- ``POST /api/v1/oauth/token`` with grant ``client_credentials`` gives a token valid :data:`CLIENT_TOKEN_TTL`
  (short-lived: a leaked token is soon worthless); the client must be live and its contract active;
- a household creates personal tokens in the portal, an operator or a supplier's account with
  ``kwartier access token`` (at most :data:`MAX_PERSONAL_TOKENS` live, valid :data:`PERSONAL_TOKEN_TTL`),
  each shown once and revocable at once; a personal token reads only what its owner may see;
- a token is resolved by its SHA-256; an unknown, revoked or expired token resolves to nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.access.accounts import Principal
from kwartier.access.codes import AccountRole, TokenKind
from kwartier.access.contracts import contract_active
from kwartier.access.credentials import (
    ACCESS_TOKEN_PREFIX,
    PERSONAL_TOKEN_PREFIX,
    new_token,
    token_hash,
    verify_secret,
)
from kwartier.registry.data_access import Account, ApiClient, ApiToken, DataAccessContract
from kwartier.registry.database import core

CLIENT_TOKEN_TTL: Final = timedelta(minutes=15)
PERSONAL_TOKEN_TTL: Final = timedelta(days=365)
MAX_PERSONAL_TOKENS: Final = 10


class TokenError(ValueError):
    """A token that cannot be issued (bad credentials, too many tokens, …)."""


def _client_usable(session: Session, client: ApiClient | None, now: datetime) -> DataAccessContract | None:
    if client is None or client.revoked_at is not None or (client.expires_at and client.expires_at <= now):
        return None
    contract = session.get(DataAccessContract, client.contract_id)
    return contract if contract is not None and contract_active(contract, now) else None


def issue_client_token(
    session: Session, client_id: str, client_secret: str, now: datetime
) -> tuple[str, int]:
    """A client-credentials access token and its lifetime in seconds; raises :class:`TokenError`."""
    client = session.get(ApiClient, client_id)
    if client is None or not verify_secret(client.secret_hash, client_secret):
        raise TokenError("invalid_client")
    if _client_usable(session, client, now) is None:
        raise TokenError("invalid_client")
    token = new_token(ACCESS_TOKEN_PREFIX)
    session.add(
        ApiToken(
            token_hash=token_hash(token),
            kind=TokenKind.CLIENT,
            client_id=client_id,
            account_id=None,
            label=None,
            created_at=now,
            expires_at=now + CLIENT_TOKEN_TTL,
            revoked_at=None,
        )
    )
    return token, int(CLIENT_TOKEN_TTL.total_seconds())


def create_personal_token(
    session: Session, account: Account, label: str, now: datetime
) -> tuple[ApiToken, str]:
    """A new personal token of a grid user (row, token shown once)."""
    if account.role not in (AccountRole.GRID_USER, AccountRole.OPERATOR, AccountRole.SUPPLIER):
        raise TokenError("personal tokens are for grid users, operators and suppliers")
    label = label.strip()
    if not label or len(label) > 100:
        raise TokenError("label: 1 to 100 characters")
    if len(personal_tokens(session, account, now)) >= MAX_PERSONAL_TOKENS:
        raise TokenError(f"at most {MAX_PERSONAL_TOKENS} live personal tokens")
    token = new_token(PERSONAL_TOKEN_PREFIX)
    row = ApiToken(
        token_hash=token_hash(token),
        kind=TokenKind.PERSONAL,
        client_id=None,
        account_id=account.id,
        label=label,
        created_at=now,
        expires_at=now + PERSONAL_TOKEN_TTL,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    return row, token


def personal_tokens(session: Session, account: Account, now: datetime) -> list[ApiToken]:
    """The account's live personal tokens, newest first."""
    return list(
        session.scalars(
            sa.select(ApiToken)
            .where(
                ApiToken.account_id == account.id,
                ApiToken.kind == TokenKind.PERSONAL,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > now,
            )
            .order_by(ApiToken.created_at.desc())
        )
    )


def revoke_personal_token(session: Session, account: Account, hashed: str, now: datetime) -> None:
    """Revoke one of the account's personal tokens (by its hash, as listed); another's is refused."""
    row = session.get(ApiToken, hashed)
    if row is None or row.account_id != account.id or row.kind is not TokenKind.PERSONAL:
        raise TokenError("no such token")
    row.revoked_at = row.revoked_at or now


_BEARER: Final = (
    sa.select(
        ApiToken.kind,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        Account.id,
        Account.role,
        Account.customer_ref,
        Account.party_id,
        ApiClient.client_id,
        ApiClient.revoked_at,
        ApiClient.expires_at,
        DataAccessContract.id,
        DataAccessContract.party_id,
        DataAccessContract.valid_from,
        DataAccessContract.valid_to,
    )
    .select_from(ApiToken)
    .join(Account, Account.id == ApiToken.account_id, isouter=True)
    .join(ApiClient, ApiClient.client_id == ApiToken.client_id, isouter=True)
    .join(DataAccessContract, DataAccessContract.id == ApiClient.contract_id, isouter=True)
    .where(ApiToken.token_hash == sa.bindparam("token_hash"))
)


def resolve_bearer(session: Session, token: str, now: datetime) -> Principal | None:
    """Who a bearer token acts for, None when it is unknown, revoked or expired (one query, built once and
    run on the session's connection: this runs on every API call)."""
    row = core(session).execute(_BEARER, {"token_hash": token_hash(token)}).one_or_none()
    if row is None:
        return None
    kind, revoked, expires, account_id, role, customer, party, client_id = row[:8]
    client_revoked, client_expires, contract_id, contract_party, valid_from, valid_to = row[8:]
    if revoked is not None or (expires is not None and expires <= now):
        return None
    if kind is TokenKind.PERSONAL:
        if account_id is None:
            return None
        return Principal(role=role, account_id=account_id, customer_ref=customer, party_id=party)
    today = now.date()
    if (
        client_id is None
        or contract_id is None
        or client_revoked is not None
        or (client_expires is not None and client_expires <= now)
        or not (valid_from <= today and (valid_to is None or today < valid_to))
    ):
        return None
    return Principal(
        role=AccountRole.PROVIDER,
        account_id=None,
        customer_ref=None,
        party_id=contract_party,
        client_id=client_id,
        contract_id=contract_id,
    )
