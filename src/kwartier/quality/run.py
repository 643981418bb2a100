"""A quality report from the store and the registry, for a period of days, as known at a moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from kwartier.config import EngineName, Settings
from kwartier.domain.timegrid import HOUR_MINUTES, QUARTER_MINUTES, gas_day_bounds, market_day_bounds
from kwartier.engine import connect, load
from kwartier.quality.report import QualityReport, compute_quality
from kwartier.registry.context import access_point_context
from kwartier.registry.database import open_registry
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore
from kwartier.store.versions import timestamptz_literal
from kwartier.validation.grid import slot_grid


def pseudonymised_context(settings: Settings, first: date, end: date) -> pa.Table:
    """The registry facts of [first, end) keyed by pseudonym (``ACCESS_POINT_CONTEXT``), no EAN."""
    pseudonymiser = Pseudonymiser.from_key_file(settings.pseudonym_key_file)
    with open_registry(settings.registry_url)() as session:
        context = access_point_context(session, first, end)
    aps = pa.array([pseudonymiser.of(e) for e in context.column("ean").to_pylist()], pa.string())
    return context.drop_columns(["ean"]).add_column(0, "ap", aps)


def quality_report(
    settings: Settings,
    days: list[date],
    *,
    as_of: datetime | None = None,
    engine: EngineName | None = None,
    backend: Any = None,
) -> QualityReport:
    """The regulator's indicators (:mod:`kwartier.quality.report`) for ``days`` as known at ``as_of``."""
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    first, last = min(days), max(days)
    store = MeterStore.open(settings.store_dir)
    start = market_day_bounds(first)[0]
    end = gas_day_bounds(last)[1]
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        versions = con.sql(
            f"SELECT * FROM ({store.scan_sql('readings')}) AS stored "
            f"WHERE start >= {timestamptz_literal(start)} AND start < {timestamptz_literal(end)}"
        ).to_arrow_table()
    finally:
        con.close()
    context = pseudonymised_context(settings, first, last + timedelta(days=1))
    engine_backend = backend or connect(engine or settings.engine)
    return compute_quality(
        load(engine_backend, versions),
        load(engine_backend, context),
        load(engine_backend, slot_grid(days, QUARTER_MINUTES)),
        load(engine_backend, slot_grid(days, HOUR_MINUTES)),
        moment,
    )
