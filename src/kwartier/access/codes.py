"""Code lists of data access (issue 6; seed 000 §7, seed 001 art. 3.1.58)."""

from __future__ import annotations

from enum import StrEnum


class AccountRole(StrEnum):
    """Who signs in: a grid user (household or organisation), the DSO's operator, a supplier, an energy
    service provider or the manager of a sharing group. Every route names the roles it admits."""

    GRID_USER = "grid_user"
    OPERATOR = "operator"
    SUPPLIER = "supplier"
    PROVIDER = "provider"
    GROUP_MANAGER = "group_manager"


class DataService(StrEnum):
    """What a mandate may cover (seed 000 §7.3: the data services of the provider API)."""

    DAILY = "daily"  # energy per day and month
    QUARTER_HOUR = "quarter_hour"  # energy per quarter hour and hour
    INSTALLATION = "installation"  # meter, regime, capacity, production installations
    PEAKS = "peaks"  # monthly and billing peaks of the capacity tariff
    SHARING = "sharing"  # energy-sharing results


class SubjectKind(StrEnum):
    """A mandate covers one access point (EAN) or every access point of an enterprise number."""

    ACCESS_POINT = "access_point"
    ENTERPRISE = "enterprise"


class MandateStatus(StrEnum):
    """Life of a mandate: requested → approved | refused; approved → revoked | expired."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    REVOKED = "revoked"
    EXPIRED = "expired"


class TokenKind(StrEnum):
    """An API token: a provider's short-lived client-credentials token or a household's personal token."""

    CLIENT = "client"
    PERSONAL = "personal"


class PortAction(StrEnum):
    """What a grid user asks of the meter's user port (P1)."""

    OPEN = "open"
    CLOSE = "close"


class PortRequestStatus(StrEnum):
    """A user-port request is pending until the head-end confirms it (within 24 hours, art. 3.1.58)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class ExportStatus(StrEnum):
    """An asynchronous history export: queued, running, done or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class AccessOutcome(StrEnum):
    """Whether a read was allowed or refused; both are logged."""

    ALLOWED = "allowed"
    REFUSED = "refused"
