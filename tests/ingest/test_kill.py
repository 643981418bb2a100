"""Killing the ingest at random moments and running it again neither duplicates nor loses data."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from kwartier.capture.ingest import ingest_paths
from kwartier.config import Settings
from kwartier.store.store import MeterStore
from tests.conftest import REPO
from tests.ingest.conftest import Region, fresh_home

ORDER = ["ap", "channel", "tariff", "start", "minutes", "recorded_at", "batch", "value", "status"]


def all_versions(settings: Settings) -> pa.Table:
    """Every stored version of every reading, sorted (what must be identical after crashes)."""
    store = MeterStore.open(settings.store_dir)
    table: pa.Table = duckdb.connect().sql(store.scan_sql("readings")).to_arrow_table()
    return table.sort_by([(column, "ascending") for column in ORDER])


def assert_consistent(settings: Settings) -> None:
    """Every committed batch is complete: its files exist and hold the rows its manifest says."""
    store = MeterStore.open(settings.store_dir)
    con = duckdb.connect()
    for batch in store.committed_batches():
        manifest = store.batch_manifest(batch)
        expected = manifest.rows("readings")
        if expected:
            counted = con.sql(
                f"SELECT count(*) FROM ({store.scan_sql('readings')}) WHERE batch = '{batch}'"
            ).fetchall()[0][0]
            assert counted == expected, f"batch {batch} has {counted} rows, its manifest {expected}"
    assert not any((settings.store_dir / "_staging").glob("*/*/*/*/*.parquet"))


def run_child(home: Path, recorded_at: str, files: list[Path], kill_after: float | None) -> None:
    command = [sys.executable, "-m", "tests.ingest.ingest_child", str(home), recorded_at, *map(str, files)]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is None:
        _, errors = child.communicate(timeout=300)
        assert child.returncode == 0, errors.decode()
        return
    time.sleep(kill_after)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)


def test_random_kills_then_rerun_give_the_same_store(region: Region, tmp_path: Path) -> None:
    deliveries = region.manifest["files"]
    reference = fresh_home(tmp_path / "reference", region)
    for entry in deliveries:
        moment = datetime.fromisoformat(entry["delivered_at"])
        ingest_paths(reference, [region.folder / entry["file"]], recorded_at=moment)
    crashed = fresh_home(tmp_path / "crashed", region, pseudonym_key=reference.pseudonym_key_file)
    chooser = random.Random(20261123)
    for entry in deliveries:
        files = [region.folder / entry["file"]]
        for _ in range(1):
            run_child(crashed.home, entry["delivered_at"], files, kill_after=chooser.uniform(0.2, 4.0))
            assert_consistent(crashed)
        run_child(crashed.home, entry["delivered_at"], files, kill_after=None)
        assert_consistent(crashed)
    assert all_versions(crashed).equals(all_versions(reference))
