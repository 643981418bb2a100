"""Occupancy: which access points a grid user holds, and when (issue 6; seed 000 §4.5).

Rule: a customer (``customer_ref``: customer number or enterprise number) may see, and grant access to,
an access point's data only for the market days on which the access register names them its grid user
(:mod:`kwartier.market.register`): the portal and the mandates never open a predecessor's or successor's
consumption.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.access.mandates import Period
from kwartier.market.codes import Attribute
from kwartier.market.register import Fact, history
from kwartier.market.service import stored_facts
from kwartier.registry.access_register import RegisterFact


def occupancy_periods(facts: Iterable[Fact], customer_ref: str) -> dict[str, list[Period]]:
    """Per access point, the periods [from, to) in which ``customer_ref`` is its grid user, as known now."""
    by_ean: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        if fact.attribute == Attribute.GRID_USER.value:
            by_ean[fact.ean].append(fact)
    held: dict[str, list[Period]] = {}
    for ean, own in by_ean.items():
        periods = [
            (start, end) for start, end, value in history(own, Attribute.GRID_USER) if value == customer_ref
        ]
        if periods:
            held[ean] = periods
    return held


def customer_occupancy(
    session: Session, customer_ref: str, eans: Iterable[str] | None = None
) -> dict[str, list[Period]]:
    """:func:`occupancy_periods` of ``customer_ref`` from the registry (optionally only of ``eans``)."""
    attribute = Attribute.GRID_USER.value
    candidates = sa.select(RegisterFact.ean).where(
        RegisterFact.attribute == attribute, RegisterFact.value == json.dumps(customer_ref)
    )
    if eans is not None:
        candidates = candidates.where(RegisterFact.ean.in_(list(eans)))
    stored = stored_facts(
        session,
        sa.and_(RegisterFact.attribute == attribute, RegisterFact.ean.in_(candidates.scalar_subquery())),
    )
    facts = [fact for own in stored.values() for fact in own]
    return occupancy_periods(facts, customer_ref)


def grid_users_of(session: Session, ean: str) -> list[str]:
    """Every customer reference ever recorded as grid user of ``ean``."""
    values = session.scalars(
        sa.select(RegisterFact.value)
        .where(RegisterFact.ean == ean, RegisterFact.attribute == Attribute.GRID_USER.value)
        .distinct()
    )
    return sorted({json.loads(value) for value in values if value is not None} - {None})
