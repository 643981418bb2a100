"""The declarative base of the registry: naming convention, UTC instants and enum columns.

Rules:
- every constraint and index has a deterministic name (``NAMING_CONVENTION``), so that migrations can
  refer to it on SQLite and PostgreSQL alike;
- an instant is stored timezone-aware and always handed out in UTC (design.md "Time"); SQLite keeps no
  offset, so a value read back from it is UTC by construction because only UTC is ever written;
- code lists are stored as their string values in a ``VARCHAR`` with a CHECK constraint (no native
  PostgreSQL enum types, so adding a value is a plain migration on both backends).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all registry models; its metadata is what the migrations must produce."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware instant, stored and returned in UTC; a naive datetime is refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r}: the registry stores only timezone-aware instants")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def code_list(enum: type[StrEnum], name: str) -> sa.Enum:
    """Column type for code list ``enum``: its values in a VARCHAR with CHECK constraint ``name``."""
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        values_callable=_values,
        validate_strings=True,
    )


def validity_check() -> sa.CheckConstraint:
    """CHECK that a half-open validity period [valid_from, valid_to) is not empty (valid_to null: open)."""
    return sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity")
