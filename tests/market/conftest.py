"""Market tests run on the registry fixtures of tests/registry (SQLite and the local PostgreSQL), with the
small market of ``tests/market/master`` loaded (see :mod:`tests.market.helpers`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kwartier.registry.master_data import load_master_data
from tests.registry.conftest import (  # noqa: F401  (fixtures used by the market tests)
    empty_url,
    postgres_registry,
    postgres_server,
    registry,
    registry_url,
    sqlite_template,
)

MASTER = Path(__file__).parent / "master"


@pytest.fixture
def market(registry: sessionmaker[Session]) -> sessionmaker[Session]:  # noqa: F811
    """A migrated registry holding the market's master data."""
    with registry() as session, session.begin():
        load_master_data(session, MASTER)
    return registry
