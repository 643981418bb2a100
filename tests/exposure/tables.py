"""Small hand-made tables of current readings (schema ``STORED_READINGS``) for the export tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from kwartier.domain.channels import Channel, ReadingStatus, TariffPeriod
from kwartier.schema import STORED_READINGS

AP_ONE = "0123456789abcdef"
RECORDED_AT = datetime(2025, 1, 1, tzinfo=UTC)

Reading = tuple[Channel, TariffPeriod, datetime, int, int, ReadingStatus]
"""channel, tariff, start (aware), minutes, value (Wh or dm³), status"""


def readings(rows: list[Reading], *, ap: str = AP_ONE) -> pa.Table:
    """A ``STORED_READINGS`` table of ``rows``, all of access point ``ap``, batch ``b1``."""
    return pa.table(
        {
            "ap": [ap] * len(rows),
            "channel": [r[0].value for r in rows],
            "tariff": [r[1].value for r in rows],
            "start": [r[2] for r in rows],
            "minutes": [r[3] for r in rows],
            "value": [r[4] for r in rows],
            "status": [r[5].value for r in rows],
            "rule": [None] * len(rows),
            "method": [None] * len(rows),
            "batch": ["b1"] * len(rows),
            "recorded_at": [RECORDED_AT] * len(rows),
        },
        schema=STORED_READINGS,
    )


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
