"""Registry tests run on SQLite (a temporary file) and on the local PostgreSQL server.

PostgreSQL: ``KWARTIER_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
names a server and a database to connect to; the session creates its own databases
``kwartier_test_<pid>_<random>`` there (AUTOCOMMIT connection) and drops them at the end. The registry is
migrated once per backend; each test then starts from empty tables (a copy of the migrated SQLite file,
or the PostgreSQL tables truncated). Tests of the migrations themselves get a database with no tables.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from kwartier.registry.database import open_registry, upgrade
from kwartier.registry.models import metadata

POSTGRES_URL_ENV = "KWARTIER_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class _Server:
    """The PostgreSQL server the tests create their databases on."""

    def __init__(self) -> None:
        self.url = make_url(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))
        self.admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.prefix = f"kwartier_test_{os.getpid()}_{secrets.token_hex(4)}"

    def create(self, suffix: str) -> URL:
        name = f"{self.prefix}_{suffix}"
        try:
            with self.admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as error:
            shown = self.url.render_as_string(hide_password=True)
            pytest.fail(f"PostgreSQL is unreachable at {shown} (set {POSTGRES_URL_ENV}): {error}")
        return self.url.set(database=name)

    def drop(self, url: URL) -> None:
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_Server]:
    server = _Server()
    yield server
    server.admin.dispose()


@pytest.fixture(scope="session")
def postgres_registry(postgres_server: _Server) -> Iterator[str]:
    """URL of this session's PostgreSQL registry, migrated to the newest schema."""
    url = postgres_server.create("registry")
    try:
        text = url.render_as_string(hide_password=False)
        upgrade(text)
        yield text
    finally:
        postgres_server.drop(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite registry file migrated to the newest schema, copied by each test."""
    path = tmp_path_factory.mktemp("template") / "registry.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_server: _Server) -> Iterator[str]:
    """URL of a database without any table: a new SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    url = postgres_server.create(f"empty_{secrets.token_hex(4)}")
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        postgres_server.drop(url)


@pytest.fixture(params=BACKENDS)
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a migrated registry whose tables are empty."""
    if request.param == "sqlite":
        path = tmp_path / "registry.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_registry")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        tables = ", ".join(metadata.tables)
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def registry(registry_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a migrated, empty registry."""
    factory = open_registry(registry_url)
    yield factory
    engine: sa.Engine = factory.kw["bind"]
    engine.dispose()
