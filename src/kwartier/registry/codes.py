"""Code lists of the registry (the carrier itself is :class:`kwartier.domain.channels.Energy`).

Sources: seed 000 §2 (market roles, meter types, measurement regimes) and the glossary in design.md.
"""

from __future__ import annotations

from enum import StrEnum


class PartyRole(StrEnum):
    """The role a market party plays: supplier, balance responsible party, DSO, energy service provider
    (data access holder) or manager of an energy-sharing group."""

    SUPPLIER = "supplier"
    BRP = "brp"
    DSO = "dso"
    ENERGY_SERVICE_PROVIDER = "energy_service_provider"
    SHARING_MANAGER = "sharing_manager"


class MeterKind(StrEnum):
    """Digital meter, remotely read meter of a large connection (AMR) or classic (Ferraris) meter."""

    DIGITAL = "digital"
    AMR = "amr"
    CLASSIC = "classic"


class Regime(StrEnum):
    """Measurement regime: SMR1 read monthly or yearly, SMR3 settled per quarter hour."""

    SMR1 = "SMR1"
    SMR3 = "SMR3"


class CapacityUnit(StrEnum):
    """Unit of a connection capacity: kVA for electricity, m³/h for gas."""

    KVA = "kVA"
    M3_PER_HOUR = "m3/h"


class InstallationKind(StrEnum):
    """Production or storage installation behind an access point."""

    PV = "pv"
    BATTERY = "battery"
    WIND = "wind"
    CHP = "chp"


class BatchKind(StrEnum):
    """What a batch of the meter-data store did."""

    INGEST = "ingest"
    ESTIMATION = "estimation"
    COMPACTION = "compaction"


class BatchStatus(StrEnum):
    """Outcome of a batch: committed to the store, or failed (nothing of it is in the store)."""

    COMMITTED = "committed"
    FAILED = "failed"
