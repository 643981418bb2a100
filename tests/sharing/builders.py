"""Building allocation inputs for the tests and reading the results back as plain rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from kwartier.engine import load, to_arrow
from kwartier.registry.sharing_groups import AllocationKey
from kwartier.schema import UTC_MICROS
from kwartier.sharing.allocation import (
    INJECTION_WH,
    OFFTAKE_WH,
    PARTICIPANT,
    RESULT_COLUMNS,
    SHARE_PPM,
    START,
    allocate,
)

T0 = datetime(2026, 6, 1, 10, tzinfo=UTC)

Case = list[dict[str, tuple[int, int, int]]]
"""Per quarter hour: participant → (injection Wh, offtake Wh, share ppm)."""


def quarter(n: int) -> datetime:
    """The n-th quarter hour after ``T0``."""
    return T0 + timedelta(minutes=15 * n)


def table_of(case: Case) -> pa.Table:
    """The allocation input of ``case``."""
    rows = [(p, quarter(n), v) for n, quarter_values in enumerate(case) for p, v in quarter_values.items()]
    return pa.table(
        {
            PARTICIPANT: [p for p, _, _ in rows],
            START: pa.array([s for _, s, _ in rows], UTC_MICROS),
            SHARE_PPM: pa.array([v[2] for _, _, v in rows], pa.int64()),
            OFFTAKE_WH: pa.array([v[1] for _, _, v in rows], pa.int64()),
            INJECTION_WH: pa.array([v[0] for _, _, v in rows], pa.int64()),
        }
    )


def run(backend: Any, case: Case, key: AllocationKey) -> dict[tuple[int, str], dict[str, int]]:
    """Allocate ``case`` on ``backend``: (quarter number, participant) → result columns [Wh]."""
    result = to_arrow(allocate(load(backend, table_of(case)), key), [START, PARTICIPANT])
    assert result.column_names == list(RESULT_COLUMNS)
    out: dict[tuple[int, str], dict[str, int]] = {}
    for row in result.to_pylist():
        n = int((row[START] - T0) / timedelta(minutes=15))
        out[(n, row[PARTICIPANT])] = {k: v for k, v in row.items() if k not in (START, PARTICIPANT)}
    return out
