"""Opening the registry database and bringing it to the newest schema (Alembic, no alembic.ini).

Rules:
- the schema is only ever created by the migrations shipped in :mod:`kwartier.registry.migrations`;
  :func:`upgrade` applies the missing ones, so it is safe on an empty, an old or a current database;
- SQLite enforces foreign keys only when asked, per connection: every connection kwartier opens asks;
- a SQLite file runs in WAL mode with ``synchronous = NORMAL`` and a 10 s busy timeout: readers never wait
  for a writer, several server workers can write (the access log) without "database is locked", and a
  committed transaction survives a crash of the process (WAL; only an OS crash may lose the last ones);
- a SQLite file's directory is created when missing (the default registry lives in ``KWARTIER_HOME``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_registry_engine(url: str) -> sa.Engine:
    """An Engine for registry ``url``; on SQLite with foreign keys enforced on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    sa.event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def alembic_config() -> Config:
    """The Alembic configuration of the registry, built in code from the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(url: str) -> None:
    """Bring the registry at ``url`` to the newest migration (creating every table on an empty one)."""
    engine = create_registry_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def open_registry(url: str) -> sessionmaker[Session]:
    """A session factory for the registry at ``url`` (which :func:`upgrade` brought to the newest schema)."""
    return sessionmaker(bind=create_registry_engine(url), expire_on_commit=False)


def core(session: Session) -> sa.Connection:
    """The connection of ``session``'s transaction, after its pending changes are flushed: for hot queries
    built once (columns, not entities), which on the connection skip the ORM's per-call work (about
    0.3 ms of a 0.4 ms token lookup) and still see everything the session wrote."""
    session.flush()
    return session.connection()


def analyse(session: Session, tables: Iterable[str]) -> None:
    """Refresh PostgreSQL's planner statistics of ``tables`` (``ANALYZE``), after a bulk load: until
    autovacuum gets to a freshly filled table (never, on a server where it is off) the planner takes it
    for nearly empty and may scan it whole where an index would find a handful of rows. SQLite keeps no
    statistics unless asked and plans by its indexes; nothing to do there."""
    if session.get_bind().dialect.name != "postgresql":
        return
    quote = session.get_bind().dialect.identifier_preparer.quote
    for table in tables:
        session.execute(sa.text(f"ANALYZE {quote(table)}"))
