"""Current values "as known at" a moment: the rule that turns stored versions into one value per key.

Rule (design.md "Every row knows when it was recorded"): the current value of a reading key
(``ap``, ``channel``, ``tariff``, ``start``, ``minutes``) as known at ``T`` is, among its versions whose
``status`` is not ``rejected`` and whose ``recorded_at`` <= ``T``, the one with the latest
``recorded_at``; on equal ``recorded_at`` the greatest ``batch`` id wins. Rejected versions stay in the
store for audit but are never current. Without ``T`` every version counts.

The rule has two implementations here: SQL for DuckDB over any number of files
(:func:`current_readings_sql`), and Arrow for the small tables of one access point
(:func:`current_readings_arrow`, no query engine to start); a test holds them equal. A third, in Ibis
for any engine, chooses the versions of the few access points the capacity-tariff peaks read again
(:func:`kwartier.billing.capacity.monthly_peaks`); a hypothesis test holds it equal to the Arrow one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kwartier.domain.channels import ReadingStatus
from kwartier.schema import (
    AP,
    BATCH,
    CHANNEL,
    MINUTES,
    RECORDED_AT,
    START,
    STATUS,
    STORED_READINGS,
    TARIFF,
    UTC_MICROS,
)
from kwartier.store.layout import order_key

READING_KEY: Final = (AP, CHANNEL, TARIFF, START, MINUTES)


def timestamptz_literal(instant: datetime) -> str:
    """DuckDB literal of an aware instant, in UTC with microseconds."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous: give a time zone")
    return f"TIMESTAMPTZ '{instant.astimezone(UTC).isoformat(timespec='microseconds')}'"


def current_readings_sql(source_sql: str, as_of: datetime | None) -> str:
    """SQL (DuckDB) of the current reading per key among the versions ``source_sql`` selects.

    ``source_sql`` is any query with the columns of ``STORED_READINGS``; the result has exactly those
    columns, one row per key.
    """
    columns = ", ".join(STORED_READINGS.names)
    conditions = [f"{STATUS} <> '{ReadingStatus.REJECTED.value}'"]
    if as_of is not None:
        conditions.append(f"{RECORDED_AT} <= {timestamptz_literal(as_of)}")
    return (
        f"SELECT {columns} FROM ({source_sql}) AS versions "
        f"WHERE {' AND '.join(conditions)} "
        f"QUALIFY row_number() OVER (PARTITION BY {', '.join(READING_KEY)} "
        f"ORDER BY {RECORDED_AT} DESC, {BATCH} DESC) = 1"
    )


def current_readings_arrow(versions: pa.Table, as_of: datetime | None) -> pa.Table:
    """The current reading per key among ``versions`` (columns of ``STORED_READINGS``), sorted by key."""
    keep = pc.not_equal(versions.column(STATUS), ReadingStatus.REJECTED.value)
    if as_of is not None:
        if as_of.tzinfo is None:
            raise ValueError("a naive datetime is ambiguous: give a time zone")
        keep = pc.and_(keep, pc.less_equal(versions.column(RECORDED_AT), pa.scalar(as_of, UTC_MICROS)))
    kept = versions.filter(keep)
    if kept.num_rows == 0:
        return kept
    return kept.take(pa.array(_newest_per_key(kept)))


def current_mask(versions: pa.Table) -> np.ndarray:
    """Per row of ``versions``, whether it is the current version of its key with every version counted
    (what :func:`current_readings_arrow` keeps with ``as_of`` None), as a NumPy bool array."""
    mask = np.zeros(versions.num_rows, dtype=bool)
    kept = np.flatnonzero(
        np.asarray(pc.not_equal(versions.column(STATUS), ReadingStatus.REJECTED.value).to_numpy(False))
    )
    if len(kept):
        mask[kept[_newest_per_key(versions.take(pa.array(kept)))]] = True
    return mask


def _newest_per_key(kept: pa.Table) -> np.ndarray:
    """Positions in ``kept`` (no rejected version) of the newest version of each key, in key order."""
    keys = [order_key(kept.column(key)) for key in READING_KEY]
    newest_first = [-order_key(kept.column(RECORDED_AT)), -order_key(kept.column(BATCH))]
    order = np.lexsort([*newest_first[::-1], *keys[::-1]])
    first = np.ones(len(order), dtype=bool)
    first[1:] = np.any([np.diff(key[order]) != 0 for key in keys], axis=0)
    positions: np.ndarray = order[first]
    return positions
