"""Kill safety: SIGKILL a committing process at random moments; every committed batch is whole, no other."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from kwartier.store.store import MeterStore

REPO = Path(__file__).resolve().parents[2]


def _check(root: Path) -> int:
    store = MeterStore(root)  # runs recovery
    files = store.files("readings")
    on_disk = set(root.glob("readings/**/*.parquet"))
    assert on_disk == set(files), "a file outside the manifests, or a listed file missing"
    assert not list((root / "_staging").iterdir())
    counts: dict[str, int] = {}
    if files:
        con = duckdb.connect()
        counts = dict(
            con.sql(f"SELECT batch, count(*) FROM ({store.scan_sql('readings')}) GROUP BY batch").fetchall()
        )
    committed = store.committed_batches()
    assert set(counts) == set(committed), "rows of an uncommitted batch are visible, or a batch lost its rows"
    for batch in committed:
        assert counts[batch] == store.batch_manifest(batch).rows("readings")
    assert sum(pq.read_metadata(p).num_rows for p in files) == sum(counts.values())
    return len(committed)


def test_sigkill_at_random_moments_leaves_a_consistent_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    rng = random.Random(20260131)
    committed = 0
    for iteration in range(6):  # a commit takes ~0.3 s: the kills land in every phase
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.store.kill_writer", str(root), str(iteration * 1000)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        if iteration % 2 == 0:  # let one batch through first; odd iterations may kill before any
            assert child.stdout.readline().startswith("committed")
        time.sleep(rng.uniform(0.0, 0.8))
        child.send_signal(signal.SIGKILL)
        child.wait()
        committed = _check(root)
    assert committed >= 3  # the writer did get batches through between the kills
