"""Data-access contracts and their OAuth2 client credentials (issue 6; seed 000 §7.1).

Rules:
- the DSO's operator registers a contract for a party with the role energy service provider; the contract
  gets a client id and a client secret (shown once, stored as an argon2 hash) and a webhook secret
  (sealed; the provider verifies our signatures with it);
- rotation issues a new client (id and secret); the old one stays valid for :data:`ROTATION_GRACE` so a
  provider can roll over without downtime, and can be revoked at once;
- a contract outside its validity, or a revoked or expired client, gets no token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.access.credentials import CLIENT_SECRET_PREFIX, hash_secret, new_token
from kwartier.access.sealing import Sealer
from kwartier.registry.codes import PartyRole
from kwartier.registry.data_access import ApiClient, DataAccessContract
from kwartier.registry.parties import Party, PartyRoleAssignment

ROTATION_GRACE: Final = timedelta(days=7)


class ContractError(ValueError):
    """A contract that cannot be registered or used as asked."""


@dataclass(frozen=True)
class Credentials:
    """A client's credentials, shown once: the secrets are not kept in the clear."""

    contract_id: int
    client_id: str
    client_secret: str
    webhook_secret: str


def provider_party(session: Session, code: str, name: str, valid_from: date) -> Party:
    """The party ``code`` with the role energy service provider from ``valid_from`` on, registered when
    missing (a party the registry already knows is returned as it is)."""
    party = session.scalar(sa.select(Party).where(Party.code == code))
    if party is None:
        party = Party(code=code, name=name)
        session.add(party)
        session.flush()
        session.add(
            PartyRoleAssignment(
                party_id=party.id,
                role=PartyRole.ENERGY_SERVICE_PROVIDER,
                valid_from=valid_from,
                valid_to=None,
            )
        )
        session.flush()
    return party


def register_contract(
    session: Session,
    sealer: Sealer,
    *,
    party_code: str,
    reference: str,
    valid_from: date,
    now: datetime,
    valid_to: date | None = None,
    webhook_url: str | None = None,
    registered_by: int | None = None,
) -> Credentials:
    """Register a data-access contract for the provider ``party_code`` (GLN); its first credentials."""
    party = session.scalar(sa.select(Party).where(Party.code == party_code))
    if party is None:
        raise ContractError(f"{party_code}: unknown party")
    role = session.scalar(
        sa.select(PartyRoleAssignment.id).where(
            PartyRoleAssignment.party_id == party.id,
            PartyRoleAssignment.role == PartyRole.ENERGY_SERVICE_PROVIDER,
        )
    )
    if role is None:
        raise ContractError(f"{party_code}: not an energy service provider")
    if valid_to is not None and valid_to <= valid_from:
        raise ContractError("valid_to: must be after valid_from")
    if webhook_url is not None and not webhook_url.startswith(("https://", "http://")):
        raise ContractError("webhook_url: an http(s) URL")
    if session.scalar(sa.select(DataAccessContract.id).where(DataAccessContract.reference == reference)):
        raise ContractError(f"{reference}: a contract with this reference exists")
    webhook_secret = secrets.token_urlsafe(32)
    contract = DataAccessContract(
        party_id=party.id,
        reference=reference,
        valid_from=valid_from,
        valid_to=valid_to,
        webhook_url=webhook_url,
        webhook_secret_sealed=sealer.seal(webhook_secret),
        registered_at=now,
        registered_by=registered_by,
    )
    session.add(contract)
    session.flush()
    client_id, client_secret = _new_client(session, contract.id, now)
    return Credentials(contract.id, client_id, client_secret, webhook_secret)


def rotate_client(session: Session, client_id: str, now: datetime) -> tuple[str, str]:
    """New credentials for the contract of ``client_id``; the old client expires after the grace."""
    client = session.get(ApiClient, client_id)
    if client is None or client.revoked_at is not None:
        raise ContractError(f"{client_id}: unknown or revoked client")
    grace_end = now + ROTATION_GRACE
    client.expires_at = min(client.expires_at or grace_end, grace_end)
    return _new_client(session, client.contract_id, now)


def revoke_client(session: Session, client_id: str, now: datetime) -> None:
    """Revoke a client at once (its tokens stop working with it)."""
    client = session.get(ApiClient, client_id)
    if client is None:
        raise ContractError(f"{client_id}: unknown client")
    client.revoked_at = client.revoked_at or now


def contract_active(contract: DataAccessContract, now: datetime) -> bool:
    """Whether the contract holds on ``now``'s date."""
    today = now.date()
    return contract.valid_from <= today and (contract.valid_to is None or today < contract.valid_to)


def webhook_secret(sealer: Sealer, contract: DataAccessContract) -> str:
    """The contract's webhook secret, unsealed."""
    return sealer.open(contract.webhook_secret_sealed)


def _new_client(session: Session, contract_id: int, now: datetime) -> tuple[str, str]:
    client_id = "kwc-" + secrets.token_hex(12)
    client_secret = new_token(CLIENT_SECRET_PREFIX)
    session.add(
        ApiClient(
            client_id=client_id,
            contract_id=contract_id,
            secret_hash=hash_secret(client_secret),
            created_at=now,
            expires_at=None,
            revoked_at=None,
        )
    )
    session.flush()
    return client_id, client_secret
