"""One calculation, two engines: DuckDB and PySpark allocate identically, for every key."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from kwartier.config import EngineName
from kwartier.engine import connect
from kwartier.registry.sharing_groups import AllocationKey

from .builders import Case, run


def random_case(seed: int, participants: int = 12, quarters: int = 40) -> Case:
    """A community with several injectors, some zero shares, nights without injection."""
    rng = random.Random(seed)
    weights = [rng.choice([0, 1, 2, 5]) for _ in range(participants)]
    weights[0] = weights[0] or 1
    shares = [w * 1_000_000 // sum(weights) for w in weights]
    shares[0] += 1_000_000 - sum(shares)
    return [
        {
            f"p{i:02d}": (
                rng.choice([0, 0, rng.randint(0, 3_000)]) if n % 4 else 0,
                rng.choice([0, rng.randint(0, 800)]),
                shares[i],
            )
            for i in range(participants)
        }
        for n in range(quarters)
    ]


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    from kwartier.engine import local_spark_session  # noqa: PLC0415 - only this test needs Spark

    session = local_spark_session()
    yield session
    session.stop()


@pytest.mark.spark
@pytest.mark.parametrize("key", list(AllocationKey))
def test_duckdb_and_spark_agree(spark_session: Any, key: AllocationKey) -> None:
    case = random_case(5)
    on_duckdb = run(connect(EngineName.DUCKDB), case, key)
    on_spark = run(connect(EngineName.SPARK, spark_session=spark_session), case, key)
    assert sum(row["shared_wh"] for row in on_duckdb.values()) > 0
    assert on_spark == on_duckdb
