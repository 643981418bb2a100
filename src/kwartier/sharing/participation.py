"""Registered groups: registering, reading them back for a period, and the participation conditions.

Conditions (seed 002 "Wat hebt u nodig"; decisions in ``docs/sharing.md``), checked when a participant
joins (:func:`register_group`, :func:`set_participants`) and again at every run
(:func:`check_participation`), for every market day the participation covers:

- ``quarter_hour_meter`` (blocking): an electricity access point with a digital meter in measurement
  regime 3 (SMR3), or an AMR meter (read per quarter hour anyway); facts from
  :func:`kwartier.registry.context.access_point_context`;
- ``one_group`` (blocking): an access point takes part in at most one group on a day (decided: the seed
  is silent; one allocation per register keeps "no sharing within one access point" and conservation
  simple);
- ``shares`` (blocking): on every day the shares of the participants sum to exactly 1 and the group
  rules of :mod:`kwartier.sharing.group` hold;
- ``supply_contract`` (warning): a supplier in the access register (:mod:`kwartier.market.register`) on
  every day. The master data of the simulated region carries no supply relation yet, so a missing
  supplier is reported, not refused; it becomes blocking when the supply register is filled.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.domain.channels import Energy
from kwartier.market.codes import Attribute
from kwartier.registry.access_register import RegisterFact
from kwartier.registry.codes import MeterKind, Regime
from kwartier.registry.context import access_point_context
from kwartier.registry.sharing_groups import (
    AllocationKey,
    SharingGroup,
    SharingParticipation,
    SharingTerms,
)
from kwartier.schema import EAN, ENERGY, METER_KIND, REGIME, VALID_FROM, VALID_TO
from kwartier.sharing.group import Group, GroupError, Participant


class Rule(StrEnum):
    """A participation condition (see the module docstring)."""

    QUARTER_HOUR_METER = "quarter_hour_meter"
    ONE_GROUP = "one_group"
    SHARES = "shares"
    SUPPLY_CONTRACT = "supply_contract"


BLOCKING = frozenset({Rule.QUARTER_HOUR_METER, Rule.ONE_GROUP, Rule.SHARES})


@dataclass(frozen=True)
class Finding:
    """Participant ``ean`` breaks ``rule`` on the market days [day_from, day_to)."""

    ean: str
    rule: Rule
    day_from: date
    day_to: date
    detail: str

    @property
    def blocking(self) -> bool:
        """A blocking finding stops the run; a warning is reported with the result."""
        return self.rule in BLOCKING

    def __str__(self) -> str:
        return f"{self.ean} {self.rule.value} [{self.day_from}, {self.day_to}): {self.detail}"


class ParticipationError(ValueError):
    """A participant breaks a blocking condition; ``findings`` says who, which rule and when."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        super().__init__("; ".join(str(f) for f in self.findings))


@dataclass(frozen=True)
class Period:
    """The group as it holds on the market days [day_from, day_to): one key and one set of shares."""

    day_from: date
    day_to: date
    group: Group


def _clip(valid_from: date, valid_to: date | None, day_from: date, day_to: date) -> tuple[date, date] | None:
    start, end = max(valid_from, day_from), min(valid_to or day_to, day_to)
    return (start, end) if start < end else None


def periods(session: Session, code: str, day_from: date, day_to: date) -> list[Period]:
    """The group ``code`` over [day_from, day_to), split wherever its terms or participants change.

    Days without terms or with fewer than two participants have no period. Raises :class:`LookupError`
    for an unknown group and :class:`ParticipationError` (rule ``shares``) when a period breaks the group
    rules."""
    group = session.scalars(sa.select(SharingGroup).where(SharingGroup.code == code)).one_or_none()
    if group is None:
        raise LookupError(f"no sharing group {code!r} in the registry")
    terms = session.scalars(sa.select(SharingTerms).where(SharingTerms.group_id == group.id)).all()
    members = session.scalars(
        sa.select(SharingParticipation).where(SharingParticipation.group_id == group.id)
    ).all()
    cuts = {day_from, day_to}
    validity = [(t.valid_from, t.valid_to) for t in terms] + [(m.valid_from, m.valid_to) for m in members]
    for pair in validity:
        for day in pair:
            if day is not None and day_from < day < day_to:
                cuts.add(day)
    bounds = sorted(cuts)
    result: list[Period] = []
    findings: list[Finding] = []
    for start, end in itertools.pairwise(bounds):
        term = next((t for t in terms if _clip(t.valid_from, t.valid_to, start, end)), None)
        present = [m for m in members if _clip(m.valid_from, m.valid_to, start, end)]
        if term is None or len(present) < 2:
            continue
        price = None if term.price_eur_per_kwh is None else Decimal(term.price_eur_per_kwh)
        participants = tuple(Participant(m.ean, m.share_ppm) for m in sorted(present, key=lambda m: m.ean))
        try:
            result.append(Period(start, end, Group(code, group.form, term.key, participants, price)))
        except GroupError as error:
            findings.append(Finding(participants[0].ean, Rule.SHARES, start, end, str(error)))
    if findings:
        raise ParticipationError(findings)
    return result


def check_participation(session: Session, code: str, spans: Iterable[Period]) -> list[Finding]:
    """The findings of the conditions for every participant of ``spans`` (periods of group ``code``)."""
    findings: list[Finding] = []
    for span in spans:
        eans = [p.ean for p in span.group.participants]
        findings += _meter_findings(session, eans, span.day_from, span.day_to)
        findings += _other_group_findings(session, code, eans, span.day_from, span.day_to)
        findings += _supplier_findings(session, eans, span.day_from, span.day_to)
    return findings


def _meter_findings(session: Session, eans: list[str], day_from: date, day_to: date) -> list[Finding]:
    context = access_point_context(session, day_from, day_to)
    context = context.filter(pa.compute.is_in(context.column(EAN), pa.array(eans)))
    covered: dict[str, list[tuple[date, date]]] = {ean: [] for ean in eans}
    for row in context.to_pylist():
        kind, regime = row[METER_KIND], row[REGIME]
        reads_quarters = kind == MeterKind.AMR.value or (
            kind == MeterKind.DIGITAL.value and regime == Regime.SMR3.value
        )
        span = _clip(row[VALID_FROM], row[VALID_TO], day_from, day_to)
        if row[ENERGY] == Energy.ELECTRICITY.value and reads_quarters and span is not None:
            covered[row[EAN]].append(span)
    findings = []
    for ean, spans in covered.items():
        for gap_from, gap_to in _gaps(spans, day_from, day_to):
            findings.append(
                Finding(
                    ean,
                    Rule.QUARTER_HOUR_METER,
                    gap_from,
                    gap_to,
                    "no electricity meter read per quarter hour (digital in SMR3, or AMR)",
                )
            )
    return findings


def _gaps(spans: list[tuple[date, date]], day_from: date, day_to: date) -> list[tuple[date, date]]:
    gaps, cursor = [], day_from
    for start, end in sorted(spans):
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < day_to:
        gaps.append((cursor, day_to))
    return gaps


def _other_group_findings(
    session: Session, code: str, eans: list[str], day_from: date, day_to: date
) -> list[Finding]:
    rows = session.execute(
        sa.select(SharingParticipation, SharingGroup.code)
        .join(SharingGroup, SharingGroup.id == SharingParticipation.group_id)
        .where(SharingParticipation.ean.in_(eans), SharingGroup.code != code)
    ).all()
    findings = []
    for participation, other in rows:
        span = _clip(participation.valid_from, participation.valid_to, day_from, day_to)
        if span is not None:
            findings.append(Finding(participation.ean, Rule.ONE_GROUP, *span, f"also in group {other}"))
    return findings


def _supplier_findings(session: Session, eans: list[str], day_from: date, day_to: date) -> list[Finding]:
    """Days without a supplier, from the access register's supplier facts (the latest ``valid_from`` on
    or before a day wins, of equal ones the later recorded; a null or JSON ``null`` value: no supplier)."""
    rows = session.scalars(
        sa.select(RegisterFact)
        .where(RegisterFact.ean.in_(eans), RegisterFact.attribute == Attribute.SUPPLIER.value)
        .order_by(RegisterFact.valid_from, RegisterFact.recorded_at, RegisterFact.id)
    ).all()
    findings = []
    for ean in eans:
        facts = [(r.valid_from, r.value not in (None, "null")) for r in rows if r.ean == ean]
        changes = sorted({day_from} | {day for day, _ in facts if day_from < day < day_to})
        for start, end in zip(changes, [*changes[1:], day_to], strict=True):
            supplied = [has for day, has in facts if day <= start]
            if not (supplied and supplied[-1]):
                findings.append(
                    Finding(ean, Rule.SUPPLY_CONTRACT, start, end, "no supplier in the access register")
                )
    return findings


def register_group(
    session: Session,
    group: Group,
    valid_from: date,
    *,
    manager_party_id: int | None = None,
    check_until: date | None = None,
) -> SharingGroup:
    """Register ``group`` from market day ``valid_from`` on (open-ended), after checking the blocking
    conditions for every participant on [valid_from, check_until) (default: the day itself)."""
    row = SharingGroup(
        code=group.code, form=group.form, manager_party_id=manager_party_id, created_at=datetime.now(UTC)
    )
    until = check_until or date.fromordinal(valid_from.toordinal() + 1)
    blocking = [
        f for f in check_participation(session, group.code, [Period(valid_from, until, group)]) if f.blocking
    ]
    if blocking:
        raise ParticipationError(blocking)
    session.add(row)
    session.flush()
    session.add(
        SharingTerms(
            group_id=row.id, key=group.key, price_eur_per_kwh=group.price_eur_per_kwh, valid_from=valid_from
        )
    )
    session.add_all(
        SharingParticipation(group_id=row.id, ean=p.ean, share_ppm=p.share_ppm, valid_from=valid_from)
        for p in group.participants
    )
    session.flush()
    return row


def change_key(session: Session, code: str, key: AllocationKey, from_day: date) -> None:
    """From market day ``from_day`` on, group ``code`` uses ``key`` (the open terms are closed there)."""
    group = session.scalars(sa.select(SharingGroup).where(SharingGroup.code == code)).one()
    current = session.scalars(
        sa.select(SharingTerms).where(SharingTerms.group_id == group.id, SharingTerms.valid_to.is_(None))
    ).one()
    current.valid_to = from_day
    session.add(
        SharingTerms(
            group_id=group.id, key=key, price_eur_per_kwh=current.price_eur_per_kwh, valid_from=from_day
        )
    )
    session.flush()


def set_participants(session: Session, code: str, shares: dict[str, int], from_day: date) -> None:
    """From market day ``from_day`` on, the participants of group ``code`` are ``shares`` (EAN → ppm):
    joining, leaving and new shares in one change. The open participations are closed at ``from_day``
    and new ones opened; the new set is checked first (group rules and blocking conditions)."""
    group = session.scalars(sa.select(SharingGroup).where(SharingGroup.code == code)).one()
    terms = session.scalars(
        sa.select(SharingTerms).where(SharingTerms.group_id == group.id, SharingTerms.valid_to.is_(None))
    ).one()
    participants = tuple(Participant(ean, share) for ean, share in sorted(shares.items()))
    candidate = Group(code, group.form, terms.key, participants, terms.price_eur_per_kwh)
    until = date.fromordinal(from_day.toordinal() + 1)
    blocking = [
        f for f in check_participation(session, code, [Period(from_day, until, candidate)]) if f.blocking
    ]
    if blocking:
        raise ParticipationError(blocking)
    open_rows = session.scalars(
        sa.select(SharingParticipation).where(
            SharingParticipation.group_id == group.id, SharingParticipation.valid_to.is_(None)
        )
    ).all()
    for row in open_rows:
        row.valid_to = from_day
    session.add_all(
        SharingParticipation(group_id=group.id, ean=p.ean, share_ppm=p.share_ppm, valid_from=from_day)
        for p in participants
    )
    session.flush()
