"""Child process of the ingest benchmark: ingest one file, print the report and the peak memory (JSON)."""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

from kwartier.capture.ingest import ingestor
from kwartier.config import load_settings


def main() -> None:
    """``python -m bench.ingest_child HOME FILE RECORDED_AT``."""
    home, file, recorded_at = Path(sys.argv[1]), Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
    settings = load_settings(home)
    started = time.perf_counter()
    with ingestor(settings) as worker:
        worker.reset_tables()
        report = worker.ingest(file, recorded_at=recorded_at)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump({"seconds": seconds, "peak_mib": peak_kib / 1024, "report": report.as_dict()}, sys.stdout)


if __name__ == "__main__":
    main()
