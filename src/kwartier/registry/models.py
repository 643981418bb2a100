"""All registry models, imported together so that ``Base.metadata`` holds every table.

The migrations (:mod:`kwartier.registry.migrations`) must produce exactly this metadata.
"""

from __future__ import annotations

from kwartier.registry.access_points import AccessPoint, ConnectionCapacity, GridArea, MeasurementRegime
from kwartier.registry.access_register import RegisterFact
from kwartier.registry.base import Base
from kwartier.registry.batches import Batch
from kwartier.registry.data_access import (
    AccessLogEntry,
    Account,
    ApiClient,
    ApiToken,
    ApiUsage,
    DataAccessContract,
    ExportJob,
    Incident,
    Mandate,
    PortalSession,
    UserPortRequest,
    WebhookDelivery,
)
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.market_processes import InboxMessage, MarketProcess, ProcessEvent, Reservation
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.registry.outbox import OutboxMessage
from kwartier.registry.parties import Party, PartyRoleAssignment
from kwartier.registry.pseudonym_keys import PseudonymKey
from kwartier.registry.sharing_groups import SharingGroup, SharingParticipation, SharingTerms

metadata = Base.metadata

__all__ = [
    "AccessLogEntry",
    "AccessPoint",
    "Account",
    "ApiClient",
    "ApiToken",
    "ApiUsage",
    "Base",
    "Batch",
    "ConnectionCapacity",
    "DataAccessContract",
    "ExportJob",
    "GridArea",
    "InboxMessage",
    "Incident",
    "Mandate",
    "MarketProcess",
    "MeasurementRegime",
    "Meter",
    "MeterInstallation",
    "OutboxMessage",
    "Party",
    "PartyRoleAssignment",
    "PortalSession",
    "ProcessEvent",
    "ProductionInstallation",
    "PseudonymKey",
    "RegisterFact",
    "Reservation",
    "SharingGroup",
    "SharingParticipation",
    "SharingTerms",
    "UserPortRequest",
    "WebhookDelivery",
    "metadata",
]
