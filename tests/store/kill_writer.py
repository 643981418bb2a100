"""Child process of the kill test: commits batches (and compacts now and then) until it is killed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kwartier.store.store import MeterStore
from tests.store.conftest import quarters, readings

APS = [f"{i:04x}{i:012x}" for i in range(0, 4096, 97)]


def main(root: Path, first: int) -> None:
    store = MeterStore(root, buckets=4)
    print("ready", flush=True)
    start = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)
    for n in range(first, first + 10_000):
        batch = f"k{n:06d}"
        if store.has_batch(batch):
            continue
        staged = store.stage(batch)
        table = readings(
            APS, quarters(start, 24), batch=batch, recorded_at=start + timedelta(seconds=n), value=n
        )
        staged.write_table("readings", table)
        store.commit(staged, {"rows": table.num_rows})
        print("committed", batch, flush=True)
        if n % 4 == 3:
            store.compact("readings")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
