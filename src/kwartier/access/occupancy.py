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
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.access.mandates import Period
from kwartier.market.codes import Attribute
from kwartier.market.register import Fact, history
from kwartier.market.service import fact_query, facts_of, json_text
from kwartier.registry.access_register import RegisterFact
from kwartier.registry.database import core


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


_GRID_USER: Final = Attribute.GRID_USER.value
_HELD: Final = sa.select(RegisterFact.ean).where(
    RegisterFact.attribute == _GRID_USER, RegisterFact.value == sa.bindparam("customer")
)
_FACTS_OF_HELD: Final = fact_query(
    sa.and_(RegisterFact.attribute == _GRID_USER, RegisterFact.ean.in_(_HELD.scalar_subquery()))
)
_FACTS_OF_HELD_AMONG: Final = fact_query(
    sa.and_(
        RegisterFact.attribute == _GRID_USER,
        RegisterFact.ean.in_(
            _HELD.where(RegisterFact.ean.in_(sa.bindparam("eans", expanding=True))).scalar_subquery()
        ),
    )
)


def customer_occupancy(
    session: Session, customer_ref: str, eans: Iterable[str] | None = None
) -> dict[str, list[Period]]:
    """:func:`occupancy_periods` of ``customer_ref`` from the registry (optionally only of ``eans``); one
    query built once (every API read of a household runs it)."""
    customer = json_text(customer_ref)
    if eans is None:
        rows = core(session).execute(_FACTS_OF_HELD, {"customer": customer})
    else:
        rows = core(session).execute(_FACTS_OF_HELD_AMONG, {"customer": customer, "eans": list(eans)})
    facts = [fact for own in facts_of(rows).values() for fact in own]
    return occupancy_periods(facts, customer_ref)


def grid_users_of(session: Session, ean: str) -> list[str]:
    """Every customer reference ever recorded as grid user of ``ean``."""
    values = session.scalars(
        sa.select(RegisterFact.value)
        .where(RegisterFact.ean == ean, RegisterFact.attribute == Attribute.GRID_USER.value)
        .distinct()
    )
    return sorted({json.loads(value) for value in values if value is not None} - {None})
