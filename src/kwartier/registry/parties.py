"""Market parties (identified by their GLN-13 code) and the roles they hold over a validity period."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kwartier.registry.base import Base, code_list, validity_check
from kwartier.registry.codes import PartyRole

GLN_LENGTH = 13


class Party(Base):
    """A market party: supplier, BRP, DSO, energy service provider or sharing-group manager."""

    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(GLN_LENGTH), unique=True)  # GLN-13
    name: Mapped[str] = mapped_column(sa.String(200))


class PartyRoleAssignment(Base):
    """Party ``party_id`` holds ``role`` on the market days [valid_from, valid_to)."""

    __tablename__ = "party_roles"
    __table_args__ = (sa.UniqueConstraint("party_id", "role", "valid_from"), validity_check())

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(sa.ForeignKey("parties.id"))
    role: Mapped[PartyRole] = mapped_column(code_list(PartyRole, "party_role"))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
