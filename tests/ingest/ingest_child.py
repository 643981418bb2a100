"""Child process of the kill test: ``python -m tests.ingest.ingest_child HOME RECORDED_AT FILE...``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from kwartier.capture.ingest import ingest_paths
from kwartier.config import load_settings


def main() -> None:
    """Ingest the files into the home, each as received at the given moment."""
    home, recorded_at, files = Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), sys.argv[3:]
    ingest_paths(load_settings(home), [Path(f) for f in files], recorded_at=recorded_at)


if __name__ == "__main__":
    main()
