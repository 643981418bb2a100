"""Configuration from the environment, read when asked for (never at import time).

- ``KWARTIER_HOME``: the data home (default ``./kwartier-data``), holding the meter-data store
  (``store/``), the default SQLite registry (``registry.sqlite``) and, apart from both, the
  pseudonymisation secret (``secrets/pseudonym.key``).
- ``KWARTIER_REGISTRY_URL``: SQLAlchemy URL of the registry (default: the SQLite file in the home;
  PostgreSQL in production, e.g. ``postgresql+psycopg://user@host/db``).
- ``KWARTIER_ENGINE``: ``duckdb`` (default, in-process) or ``spark`` for batch calculations.
- ``KWARTIER_PSEUDONYM_KEY_FILE``: where the pseudonymisation secret lives, when not in the home.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class EngineName(StrEnum):
    """The engines a batch calculation runs on."""

    DUCKDB = "duckdb"
    SPARK = "spark"


@dataclass(frozen=True)
class Settings:
    """Where kwartier keeps its data and which engine it calculates with."""

    home: Path
    registry_url: str
    engine: EngineName
    pseudonym_key_file: Path

    @property
    def store_dir(self) -> Path:
        """Root of the meter-data store (Parquet)."""
        return self.home / "store"


def load_settings(home: Path | None = None) -> Settings:
    """Read the settings from the environment; ``home`` overrides ``KWARTIER_HOME``."""
    root = (home or Path(os.environ.get("KWARTIER_HOME", "kwartier-data"))).resolve()
    url = os.environ.get("KWARTIER_REGISTRY_URL") or f"sqlite:///{root / 'registry.sqlite'}"
    engine = EngineName(os.environ.get("KWARTIER_ENGINE", EngineName.DUCKDB.value))
    key_file = os.environ.get("KWARTIER_PSEUDONYM_KEY_FILE")
    key_path = Path(key_file) if key_file else root / "secrets" / "pseudonym.key"
    return Settings(home=root, registry_url=url, engine=engine, pseudonym_key_file=key_path)
