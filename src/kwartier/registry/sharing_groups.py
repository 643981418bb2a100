"""Energy-sharing groups and peer-to-peer sales (seed 002): the arrangement, its terms and participants.

Rules (seed 002, the Flemish protocol as quoted in issue 5; decisions in ``docs/sharing.md``):
- a group has one form: sharing in a common building, in an energy community, with oneself between one's
  own sites, or a peer-to-peer sale (one or several sellers, one buyer); the manager is the market party
  that registered it (null for sharing with oneself and peer-to-peer, which the customer registers);
- the terms (allocation key, P2P price in EUR/kWh) hold over a validity period of market days
  [valid_from, valid_to), so that a key change is a new row, never an update of history;
- a participation is an access point (EAN) in the group with its key share over [valid_from, valid_to);
  joining opens a row, leaving closes it, a new share is a new row. The share is an integer number of
  millionths (``share_ppm``, 0..1,000,000): exact, and Σ shares = 1,000,000 on every day is checked by
  :mod:`kwartier.sharing.participation`, not by the database (it spans rows);
- a P2P sale lists the buyer with share 1,000,000 and every seller with share 0.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kwartier.registry.base import Base, UtcDateTime, code_list, validity_check

SHARE_SCALE: Final = 1_000_000
"""Key shares are stored and calculated in millionths: share 0.225 is 225,000."""


class SharingForm(StrEnum):
    """The form of the arrangement (seed 002): common building, energy community, oneself, P2P sale."""

    BUILDING = "building"
    COMMUNITY = "community"
    SELF = "self"
    P2P = "p2p"


class AllocationKey(StrEnum):
    """Allocation key chosen by the group manager: vaste, relatieve or optimale verdeelsleutel."""

    FIXED = "fixed"
    RELATIVE = "relative"
    OPTIMAL = "optimal"


class SharingGroup(Base):
    """An energy-sharing group or P2P sale, identified by its ``code``."""

    __tablename__ = "sharing_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    form: Mapped[SharingForm] = mapped_column(code_list(SharingForm, "sharing_form"))
    manager_party_id: Mapped[int | None] = mapped_column(sa.ForeignKey("parties.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())  # when the registry learnt of it


class SharingTerms(Base):
    """The allocation key and P2P price [EUR/kWh] of group ``group_id`` on [valid_from, valid_to)."""

    __tablename__ = "sharing_terms"
    __table_args__ = (
        sa.UniqueConstraint("group_id", "valid_from"),
        validity_check(),
        sa.CheckConstraint("price_eur_per_kwh IS NULL OR price_eur_per_kwh >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(sa.ForeignKey("sharing_groups.id"))
    key: Mapped[AllocationKey] = mapped_column(code_list(AllocationKey, "allocation_key"))
    price_eur_per_kwh: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 5))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]


class SharingParticipation(Base):
    """Access point ``ean`` takes part in group ``group_id`` with ``share_ppm`` on [valid_from, valid_to)."""

    __tablename__ = "sharing_participations"
    __table_args__ = (
        sa.UniqueConstraint("group_id", "ean", "valid_from"),
        validity_check(),
        sa.CheckConstraint(f"share_ppm >= 0 AND share_ppm <= {SHARE_SCALE}", name="share_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(sa.ForeignKey("sharing_groups.id"))
    ean: Mapped[str] = mapped_column(sa.ForeignKey("access_points.ean"), index=True)
    share_ppm: Mapped[int]
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
