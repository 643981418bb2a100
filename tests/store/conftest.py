"""Fixtures of the store tests: a small store, pseudonyms, hand-made reading versions, a Spark session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from kwartier.domain.channels import ReadingStatus
from kwartier.schema import STORED_READINGS
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore

T0 = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)  # 2026-02-01 00:00 Brussels


@pytest.fixture
def pseudonymiser() -> Pseudonymiser:
    return Pseudonymiser(bytes(range(32)), key_id="test")


@pytest.fixture
def aps(pseudonymiser: Pseudonymiser) -> list[str]:
    return [pseudonymiser.of(f"54144882000000{i:04d}") for i in range(12)]


@pytest.fixture
def store(tmp_path: Path) -> MeterStore:
    return MeterStore(tmp_path / "store", buckets=8)


def readings(
    aps: list[str],
    starts: list[datetime],
    *,
    batch: str,
    recorded_at: datetime,
    value: int = 100,
    status: str = ReadingStatus.MEASURED.value,
    channels: tuple[str, ...] = ("offtake",),
) -> pa.Table:
    """One version per (ap, channel, start): value = ``value`` + index of the start, in Wh."""
    rows: dict[str, list[Any]] = {name: [] for name in STORED_READINGS.names}
    for ap in aps:
        for channel in channels:
            for i, start in enumerate(starts):
                for name, item in (
                    ("ap", ap),
                    ("channel", channel),
                    ("tariff", "night"),
                    ("start", start),
                    ("minutes", 15),
                    ("value", value + i),
                    ("status", status),
                    ("rule", "spike" if status == ReadingStatus.REJECTED.value else None),
                    ("method", None),
                    ("batch", batch),
                    ("recorded_at", recorded_at),
                ):
                    rows[name].append(item)
    return pa.table(rows, schema=STORED_READINGS)


def quarters(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(minutes=15 * i) for i in range(count)]


def commit_table(store: MeterStore, batch: str, table: pa.Table, dataset: str = "readings") -> None:
    staged = store.stage(batch)
    staged.write_table(dataset, table)
    store.commit(staged, {"rows": table.num_rows})


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession  # noqa: PLC0415 - only the Spark tests start a session

    session = (
        SparkSession.builder.master("local[2]")
        .appName("kwartier-store-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()
