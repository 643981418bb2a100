"""The sharing part of the demo: an energy community in the simulated region and its monthly result.

The community: up to :data:`PRODUCERS` access points with production and :data:`CONSUMERS` without,
chosen in EAN order among those that meet the blocking participation conditions on every demo day
(electricity, digital meter in SMR3 or AMR); equal shares, the optimal key. It is registered once
(a rerun of the demo finds it) and settled over the demo days as known at the last delivery.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

import sqlalchemy as sa

from kwartier.config import Settings
from kwartier.domain.channels import Energy
from kwartier.registry.codes import MeterKind, Regime
from kwartier.registry.context import access_point_context
from kwartier.registry.database import open_registry
from kwartier.registry.sharing_groups import SHARE_SCALE, AllocationKey, SharingForm, SharingGroup
from kwartier.schema import EAN, ENERGY, HAS_PRODUCTION, METER_KIND, REGIME, VALID_FROM, VALID_TO
from kwartier.sharing.group import Group, Participant
from kwartier.sharing.participation import register_group
from kwartier.sharing.settlement import SettlementRun, settle

DEMO_GROUP: Final = "demo-community"
PRODUCERS: Final = 4
CONSUMERS: Final = 8


def demo_sharing(settings: Settings, day_from: date, day_to: date, as_of: datetime) -> SettlementRun | None:
    """Register the demo community (once) and settle it over [day_from, day_to); None when the region has
    fewer than two eligible access points."""
    sessions = open_registry(settings.registry_url)
    with sessions() as session, session.begin():
        exists = session.scalars(sa.select(SharingGroup.id).where(SharingGroup.code == DEMO_GROUP)).first()
        if exists is None:
            eans = _eligible(session, day_from, day_to)
            if len(eans) < 2:
                return None
            shares = [SHARE_SCALE // len(eans)] * len(eans)
            shares[0] += SHARE_SCALE - sum(shares)
            participants = tuple(Participant(e, s) for e, s in zip(eans, shares, strict=True))
            group = Group(DEMO_GROUP, SharingForm.COMMUNITY, AllocationKey.OPTIMAL, participants, None)
            register_group(session, group, day_from, check_until=day_to)
    return settle(settings, DEMO_GROUP, day_from, day_to, as_of)


def _eligible(session: sa.orm.Session, day_from: date, day_to: date) -> list[str]:
    context = access_point_context(session, day_from, day_to).to_pylist()
    producers: list[str] = []
    consumers: list[str] = []
    for row in context:
        quarter_hour = row[METER_KIND] == MeterKind.AMR.value or (
            row[METER_KIND] == MeterKind.DIGITAL.value and row[REGIME] == Regime.SMR3.value
        )
        whole = row[VALID_FROM] <= day_from and (row[VALID_TO] is None or row[VALID_TO] >= day_to)
        if row[ENERGY] != Energy.ELECTRICITY.value or not quarter_hour or not whole:
            continue
        chosen = producers if row[HAS_PRODUCTION] else consumers
        if row[EAN] not in producers + consumers and len(chosen) < (
            PRODUCERS if row[HAS_PRODUCTION] else CONSUMERS
        ):
            chosen.append(row[EAN])
    return sorted(producers + consumers)
