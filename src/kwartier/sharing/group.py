"""A sharing group as one calculation sees it: form, key, P2P price and participants with key shares.

Rules (seed 002; issue 5; decisions in ``docs/sharing.md``):
- at least two participants, each access point (EAN) once: sharing within one access point is no sharing
  (injection and offtake are separate registers of the same point and are never netted);
- key shares are exact millionths, none negative, summing to exactly 1 (1,000,000 ppm);
- peer-to-peer: one buyer with share 1 and one or more sellers with share 0 (never one seller to several
  buyers); the price in EUR/kWh is registered with the arrangement (0 for a gift) and required; for every
  other form no price is given (sharing happens free of charge, seed 002);
- for peer-to-peer the key does not matter (a single receiver takes what it can, every round alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kwartier.registry.sharing_groups import SHARE_SCALE, AllocationKey, SharingForm


class GroupError(ValueError):
    """A group definition breaks a rule of this module."""


@dataclass(frozen=True)
class Participant:
    """An access point in the group with its key share [ppm]."""

    ean: str
    share_ppm: int


@dataclass(frozen=True)
class Group:
    """A checked group definition (see the module rules)."""

    code: str
    form: SharingForm
    key: AllocationKey
    participants: tuple[Participant, ...]
    price_eur_per_kwh: Decimal | None

    def __post_init__(self) -> None:
        check_group(self)

    def share_of(self) -> dict[str, int]:
        """Key share [ppm] per EAN."""
        return {p.ean: p.share_ppm for p in self.participants}

    @property
    def buyer(self) -> str | None:
        """The buyer of a peer-to-peer sale (share 1), None for the other forms."""
        if self.form is not SharingForm.P2P:
            return None
        return next(p.ean for p in self.participants if p.share_ppm == SHARE_SCALE)


def share_to_ppm(share: Decimal) -> int:
    """Key share (a fraction such as 0.225) as exact millionths; more than 6 decimals is refused."""
    scaled = share * SHARE_SCALE
    if scaled != scaled.to_integral_value():
        raise GroupError(f"share {share} has more than 6 decimals")
    return int(scaled)


def check_group(group: Group) -> None:
    """Raise :class:`GroupError` naming the first rule ``group`` breaks."""
    eans = [p.ean for p in group.participants]
    if len(eans) < 2:
        raise GroupError(f"group {group.code}: at least two participants, not {len(eans)}")
    seen: set[str] = set()
    for ean in eans:
        if ean in seen:
            raise GroupError(
                f"group {group.code}: access point {ean} is listed twice (no sharing within one)"
            )
        seen.add(ean)
    for p in group.participants:
        if not 0 <= p.share_ppm <= SHARE_SCALE:
            raise GroupError(
                f"group {group.code}: share of {p.ean} is {p.share_ppm / SHARE_SCALE}, not in [0, 1]"
            )
    total = sum(p.share_ppm for p in group.participants)
    if total != SHARE_SCALE:
        raise GroupError(f"group {group.code}: shares sum to {Decimal(total) / SHARE_SCALE}, not 1")
    if group.form is SharingForm.P2P:
        buyers = [p for p in group.participants if p.share_ppm == SHARE_SCALE]
        if len(buyers) != 1:
            raise GroupError(
                f"group {group.code}: a P2P sale has one buyer with share 1 and sellers with share 0"
            )
        if group.price_eur_per_kwh is None or group.price_eur_per_kwh < 0:
            raise GroupError(f"group {group.code}: a P2P sale needs price_eur_per_kwh >= 0 (0 for a gift)")
    elif group.price_eur_per_kwh is not None:
        raise GroupError(
            f"group {group.code}: only a P2P sale has a price; {group.form.value} sharing is free"
        )
