"""Data access in the registry (issue 6): accounts and sessions, data-access contracts with their API
clients and tokens, mandates, webhook deliveries, the access log, user-port requests, export jobs, API use
and incidents.

Rules:
- no secret is stored in the clear: passwords and client secrets as argon2 hashes, tokens and consent
  links as SHA-256 hashes, webhook secrets and names sealed with the data-access key
  (:mod:`kwartier.access.sealing`);
- the access log is append-only: the migration installs triggers that refuse UPDATE and DELETE on it;
- meter data is not here: the access log names the access point and the data service read, never values.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kwartier.access.codes import (
    AccessOutcome,
    AccountRole,
    ExportStatus,
    MandateStatus,
    PortAction,
    PortRequestStatus,
    SubjectKind,
    TokenKind,
)
from kwartier.domain.ean import EAN_LENGTH
from kwartier.registry.base import Base, UtcDateTime, code_list

HASH_LENGTH = 64  # hex SHA-256
CLIENT_ID_LENGTH = 64
MANDATE_ID_LENGTH = 36  # UUID text
SUBJECT_LENGTH = 32  # an EAN-18 or an enterprise number
URL_LENGTH = 2000


class Account(Base):
    """Someone who signs in: a grid user (``customer_ref`` is the grid-user reference of the access
    register: a customer number, or an organisation's enterprise number) or a party's user."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(sa.Text())
    oidc_subject: Mapped[str | None] = mapped_column(sa.String(300), unique=True)
    role: Mapped[AccountRole] = mapped_column(code_list(AccountRole, "account_role"))
    customer_ref: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    party_id: Mapped[int | None] = mapped_column(sa.ForeignKey("parties.id"))
    language: Mapped[str] = mapped_column(sa.String(2))
    name_sealed: Mapped[str | None] = mapped_column(sa.Text())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PortalSession(Base):
    """A signed-in portal session; the cookie holds the token, the registry only its hash."""

    __tablename__ = "portal_sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(HASH_LENGTH), primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DataAccessContract(Base):
    """A data-access contract between the DSO and an energy service provider (seed 000 §7.1)."""

    __tablename__ = "data_access_contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(sa.ForeignKey("parties.id"), index=True)
    reference: Mapped[str] = mapped_column(sa.String(64), unique=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    webhook_url: Mapped[str | None] = mapped_column(sa.String(URL_LENGTH))
    webhook_secret_sealed: Mapped[str] = mapped_column(sa.Text())
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    registered_by: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))


class ApiClient(Base):
    """OAuth2 client credentials of a contract; a rotated secret stays valid until ``expires_at``."""

    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_LENGTH), primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("data_access_contracts.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(sa.Text())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ApiToken(Base):
    """A bearer token: a client's short-lived access token or a household's personal token."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(sa.String(HASH_LENGTH), primary_key=True)
    kind: Mapped[TokenKind] = mapped_column(code_list(TokenKind, "token_kind"))
    client_id: Mapped[str | None] = mapped_column(sa.ForeignKey("api_clients.client_id"), index=True)
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    label: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Mandate(Base):
    """A grid user's consent that a provider reads ``services`` of ``subject`` for data in
    [data_from, data_to) until ``expires_at`` (seed 000 §7.3)."""

    __tablename__ = "mandates"

    id: Mapped[str] = mapped_column(sa.String(MANDATE_ID_LENGTH), primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("data_access_contracts.id"), index=True)
    subject_kind: Mapped[SubjectKind] = mapped_column(code_list(SubjectKind, "subject_kind"))
    subject: Mapped[str] = mapped_column(sa.String(SUBJECT_LENGTH), index=True)
    services: Mapped[str] = mapped_column(sa.String(200))  # DataService values, comma-separated, sorted
    data_from: Mapped[date]
    data_to: Mapped[date]
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    provider_reference: Mapped[str] = mapped_column(sa.String(100))
    return_url: Mapped[str | None] = mapped_column(sa.String(URL_LENGTH))
    status: Mapped[MandateStatus] = mapped_column(code_list(MandateStatus, "mandate_status"))
    consent_token_hash: Mapped[str] = mapped_column(sa.String(HASH_LENGTH), unique=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    renews: Mapped[str | None] = mapped_column(sa.ForeignKey("mandates.id"))
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class WebhookDelivery(Base):
    """One signed event for a contract's webhook, retried with back-off until delivered."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("data_access_contracts.id"), index=True)
    event_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    event: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[str] = mapped_column(sa.Text())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text())


class AccessLogEntry(Base):
    """One read of personal data (allowed or refused): who, what, which period, under which mandate."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor_kind: Mapped[str] = mapped_column(sa.String(20))
    actor: Mapped[str] = mapped_column(sa.String(100))
    party_id: Mapped[int | None] = mapped_column(sa.ForeignKey("parties.id"))
    ean: Mapped[str | None] = mapped_column(sa.String(EAN_LENGTH), index=True)
    service: Mapped[str] = mapped_column(sa.String(20))
    data_from: Mapped[date | None]
    data_to: Mapped[date | None]
    mandate_id: Mapped[str | None] = mapped_column(sa.String(MANDATE_ID_LENGTH))
    outcome: Mapped[AccessOutcome] = mapped_column(code_list(AccessOutcome, "access_outcome"))
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    route: Mapped[str] = mapped_column(sa.String(200))


class UserPortRequest(Base):
    """A grid user's request to open or close the user port (P1) of a meter, due within 24 hours."""

    __tablename__ = "user_port_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    ean: Mapped[str] = mapped_column(sa.ForeignKey("access_points.ean"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    action: Mapped[PortAction] = mapped_column(code_list(PortAction, "port_action"))
    status: Mapped[PortRequestStatus] = mapped_column(code_list(PortRequestStatus, "port_request_status"))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    open_until: Mapped[date | None]
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ExportJob(Base):
    """An asynchronous history export on the throttled lane; its file lies in the data home."""

    __tablename__ = "export_jobs"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.ForeignKey("api_clients.client_id"), index=True)
    mandate_id: Mapped[str] = mapped_column(sa.ForeignKey("mandates.id"))
    ean: Mapped[str] = mapped_column(sa.String(EAN_LENGTH))
    granularity: Mapped[str] = mapped_column(sa.String(10))
    data_from: Mapped[date]
    data_to: Mapped[date]
    status: Mapped[ExportStatus] = mapped_column(code_list(ExportStatus, "export_status"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rows: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.Text())


class ApiUsage(Base):
    """Calls per day, client, call type (route template) and API version (seed 000 §7.2)."""

    __tablename__ = "api_usage"

    day: Mapped[date] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_LENGTH), primary_key=True)
    call: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    calls: Mapped[int]
    refused: Mapped[int]


class Incident(Base):
    """An outage or degradation, shown on the public status endpoint while open and for 30 days after."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    detail: Mapped[str] = mapped_column(sa.Text())
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
