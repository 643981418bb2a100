"""The registry facts a batch calculation needs per access point: ``ACCESS_POINT_CONTEXT`` keyed by EAN.

Rules:
- one row per access point and period over which all its facts hold, for every period that overlaps
  the market days [day_from, day_to); an access point without an installed meter, a regime or a
  capacity on a day has no row for that day (the calculation cannot place it);
- the facts: the energy of the access point, the kind of the installed meter, the measurement regime,
  the connection capacity (kVA or m³/h) and ``has_production``: at least one production installation is
  in service (commissioned on or before the day, not yet decommissioned);
- ``valid_from`` / ``valid_to`` are the intersection of the periods of the meter installation, regime,
  capacity and production state (half-open, ``valid_to`` null: open-ended): a row is split wherever one
  of them changes. The periods are *not* cut to [day_from, day_to), so a row says how long its facts
  hold; a caller that wants the range clips it;
- the first column is ``ean``: the caller replaces it by the pseudonym ``ap`` before the facts meet the
  meter-data store (design.md "Two stores, kept apart by law").

The whole context is one SQL query (joins on overlapping periods; window functions turn production
installations into has/has-not periods), fetched in chunks straight into Arrow arrays.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final, TypeAlias

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from kwartier.registry.access_points import AccessPoint, ConnectionCapacity, MeasurementRegime
from kwartier.registry.arrow_io import fetch_arrow
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.schema import (
    ACCESS_POINT_CONTEXT,
    CAPACITY,
    EAN,
    ENERGY,
    HAS_PRODUCTION,
    METER_KIND,
    REGIME,
    VALID_FROM,
    VALID_TO,
)

ACCESS_POINT_CONTEXT_BY_EAN: Final = pa.schema(
    [pa.field(EAN, pa.string(), nullable=False)]
    + [ACCESS_POINT_CONTEXT.field(i) for i in range(1, len(ACCESS_POINT_CONTEXT))]
)
"""``ACCESS_POINT_CONTEXT`` with the EAN in the first column instead of the pseudonym ``ap``."""

ACCESS_POINT_LIMITS: Final = pa.schema(
    [
        ACCESS_POINT_CONTEXT_BY_EAN.field(EAN),
        ACCESS_POINT_CONTEXT.field(CAPACITY),
        ACCESS_POINT_CONTEXT.field(HAS_PRODUCTION),
    ]
)
"""Per access point: the largest capacity and whether it had production, over a range of days."""

_Day: TypeAlias = sa.ColumnElement[Any] | QueryableAttribute[Any]
END_OF_TIME = date(9999, 12, 31)  # stands for an open end inside the query, never returned


class _Latest(FunctionElement[date]):
    """The latest of some dates, none null (SQLite: scalar ``max``, others: ``greatest``)."""

    type = sa.Date()
    inherit_cache = True
    name = "latest"


class _Earliest(FunctionElement[date]):
    """The earliest of some dates, none null (SQLite: scalar ``min``, others: ``least``)."""

    type = sa.Date()
    inherit_cache = True
    name = "earliest"


@compiles(_Latest)
def _compile_latest(element: _Latest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"greatest({compiler.process(element.clauses, **kw)})"


@compiles(_Latest, "sqlite")
def _compile_latest_sqlite(element: _Latest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(_Earliest)
def _compile_earliest(element: _Earliest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"least({compiler.process(element.clauses, **kw)})"


@compiles(_Earliest, "sqlite")
def _compile_earliest_sqlite(element: _Earliest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


def _overlap(a_from: _Day, a_to: _Day, b_from: _Day, b_to: _Day) -> sa.ColumnElement[bool]:
    """[a_from, a_to) and [b_from, b_to) share a day; a null end is open, a null start (b only) too."""
    return sa.and_(
        sa.or_(b_to.is_(None), a_from < b_to),
        sa.or_(a_to.is_(None), b_from.is_(None), b_from < a_to),
    )


def _production_periods() -> sa.Subquery:
    """Per EAN with installations: the periods with and without one in service, covering all time.

    Every commissioning day counts +1 and every decommissioning day -1; the running sum per EAN says how
    many installations are in service from that day. Only the days where "at least one" changes are
    kept; each starts a period up to the next such day, and the time before the first one is a period
    without production (its start null: since ever).
    """
    pi = ProductionInstallation
    events = sa.union_all(
        sa.select(pi.ean, pi.commissioned_on.label("day"), sa.literal(1).label("delta")),
        sa.select(pi.ean, pi.decommissioned_on.label("day"), sa.literal(-1).label("delta")).where(
            pi.decommissioned_on.is_not(None)
        ),
    ).subquery("events")
    net = (
        sa.select(events.c.ean, events.c.day, sa.func.sum(events.c.delta).label("net"))
        .group_by(events.c.ean, events.c.day)
        .subquery("net")
    )
    in_service = sa.func.sum(net.c.net).over(partition_by=net.c.ean, order_by=net.c.day)
    running = sa.select(net.c.ean, net.c.day, (in_service > 0).label("active")).subquery("running")
    changes = sa.select(
        running.c.ean,
        running.c.day,
        running.c.active,
        sa.func.lag(running.c.active)
        .over(partition_by=running.c.ean, order_by=running.c.day)
        .label("before"),
    ).subquery("changes")
    kept = (
        sa.select(changes.c.ean, changes.c.day, changes.c.active)
        .where(sa.func.coalesce(changes.c.before, sa.false()) != changes.c.active)
        .subquery("kept")
    )
    return sa.union_all(
        sa.select(
            kept.c.ean,
            kept.c.day.label("valid_from"),
            sa.func.lead(kept.c.day).over(partition_by=kept.c.ean, order_by=kept.c.day).label("valid_to"),
            kept.c.active,
        ),
        sa.select(
            kept.c.ean,
            sa.cast(sa.null(), sa.Date).label("valid_from"),
            sa.func.min(kept.c.day).label("valid_to"),
            sa.false().label("active"),
        ).group_by(kept.c.ean),
    ).subquery("production")


def context_query(day_from: date, day_to: date) -> sa.Select[*tuple[Any, ...]]:
    """The SQL of :func:`access_point_context` (one statement, ordered by EAN and start day)."""
    ap, mi, meter = AccessPoint, MeterInstallation, Meter
    regime, capacity = MeasurementRegime, ConnectionCapacity
    production = _production_periods()
    first, last = sa.literal(day_from, sa.Date), sa.literal(day_to, sa.Date)
    end = sa.literal(END_OF_TIME, sa.Date)
    valid_from = _Latest(
        mi.valid_from,
        regime.valid_from,
        capacity.valid_from,
        sa.func.coalesce(production.c.valid_from, mi.valid_from),
    )
    valid_to = sa.func.nullif(
        _Earliest(
            sa.func.coalesce(mi.valid_to, end),
            sa.func.coalesce(regime.valid_to, end),
            sa.func.coalesce(capacity.valid_to, end),
            sa.func.coalesce(production.c.valid_to, end),
        ),
        end,
    )
    valid_from_col = sa.type_coerce(valid_from, sa.Date).label(VALID_FROM)
    return (
        sa.select(
            ap.ean.label(EAN),
            sa.type_coerce(ap.energy, sa.String).label(ENERGY),
            sa.type_coerce(meter.kind, sa.String).label(METER_KIND),
            sa.type_coerce(regime.regime, sa.String).label(REGIME),
            capacity.capacity.label(CAPACITY),
            sa.type_coerce(sa.func.coalesce(production.c.active, sa.false()), sa.Boolean).label(
                HAS_PRODUCTION
            ),
            valid_from_col,
            sa.type_coerce(valid_to, sa.Date).label(VALID_TO),
        )
        .select_from(ap)
        .join(mi, sa.and_(mi.ean == ap.ean, _overlap(mi.valid_from, mi.valid_to, first, last)))
        .join(meter, meter.id == mi.meter_id)
        .join(
            regime,
            sa.and_(
                regime.ean == ap.ean,
                _overlap(regime.valid_from, regime.valid_to, first, last),
                _overlap(regime.valid_from, regime.valid_to, mi.valid_from, mi.valid_to),
            ),
        )
        .join(
            capacity,
            sa.and_(
                capacity.ean == ap.ean,
                _overlap(capacity.valid_from, capacity.valid_to, first, last),
                _overlap(capacity.valid_from, capacity.valid_to, mi.valid_from, mi.valid_to),
                _overlap(capacity.valid_from, capacity.valid_to, regime.valid_from, regime.valid_to),
            ),
        )
        .outerjoin(
            production,
            sa.and_(
                production.c.ean == ap.ean,
                _overlap(first, last, production.c.valid_from, production.c.valid_to),
                _overlap(mi.valid_from, mi.valid_to, production.c.valid_from, production.c.valid_to),
                _overlap(regime.valid_from, regime.valid_to, production.c.valid_from, production.c.valid_to),
                _overlap(
                    capacity.valid_from, capacity.valid_to, production.c.valid_from, production.c.valid_to
                ),
            ),
        )
        .order_by(ap.ean, valid_from_col)
    )


def access_point_context(session: Session, day_from: date, day_to: date) -> pa.Table:
    """The registry facts per access point and validity period overlapping [day_from, day_to).

    Schema :data:`ACCESS_POINT_CONTEXT_BY_EAN`; see the module docstring for the rules.
    """
    if day_to <= day_from:
        raise ValueError(f"empty range [{day_from}, {day_to})")
    return fetch_arrow(session, context_query(day_from, day_to), ACCESS_POINT_CONTEXT_BY_EAN)


def access_point_limits(session: Session, day_from: date, day_to: date) -> pa.Table:
    """Per access point with a row in :func:`access_point_context` over [day_from, day_to): the largest
    connection capacity of those rows and whether any of them has a production installation in service.

    Schema :data:`ACCESS_POINT_LIMITS`, one row per EAN. These are the lenient facts the ingest checks
    rows against (issue "Measurement data chain" §5: physical maximum, injection without production);
    the registry groups them, so only one short row per access point is fetched.
    """
    if day_to <= day_from:
        raise ValueError(f"empty range [{day_from}, {day_to})")
    context = context_query(day_from, day_to).order_by(None).subquery()
    any_production = sa.func.max(sa.case((context.c[HAS_PRODUCTION], 1), else_=0)) == 1
    statement = (
        sa.select(
            context.c[EAN],
            sa.func.max(context.c[CAPACITY]).label(CAPACITY),
            sa.type_coerce(any_production, sa.Boolean).label(HAS_PRODUCTION),
        )
        .group_by(context.c[EAN])
        .order_by(context.c[EAN])
    )
    return fetch_arrow(session, statement, ACCESS_POINT_LIMITS)
