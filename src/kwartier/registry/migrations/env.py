"""Alembic environment of the registry: runs on the connection :func:`kwartier.registry.database.upgrade`
hands over in ``config.attributes["connection"]`` (no alembic.ini, no URL in a file)."""

from __future__ import annotations

from alembic import context

from kwartier.registry.models import metadata


def run_migrations() -> None:
    """Run the migrations online on the connection given by the caller."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("the registry migrations run through kwartier.registry.database.upgrade(url)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
