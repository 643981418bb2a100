"""The data market of the demo region (issue 6): grid users who moved in through the supply market, their
portal accounts, an energy service provider with a data-access contract, mandates in every state, and a
few real reads by the provider through the API, so that the portal's "who has my data" and access log
show something.

Who is seeded (passwords are the demo's, printed by ``kwartier demo``; never use them elsewhere):
- ``ann@kwartier.demo``: a household (customer ``DEMO-ANN``) on a member of the demo energy community; an
  approved mandate for the provider (daily and quarter-hour values, peaks, sharing) that was read;
- ``bert@kwartier.demo``: a household (``DEMO-BERT``) with a mandate request waiting for approval (its
  consent link is printed);
- ``facility@bakkerij.demo``: an organisation (enterprise number ``0412345678``) holding two access points,
  with an approved enterprise mandate;
- ``ops@kwartier.demo``: the DSO's operator (API usage dashboard);
- the provider "Energie Inzicht BV": its client credentials are written to
  ``<home>/secrets/demo-provider.json`` (mode 0600) to try the API.
Every customer becomes grid user by a move-in message processed by the market service with the store's
remote reading as handover index: the portal shows them only their own days. Seeding twice adds nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kwartier.access.accounts import create_account
from kwartier.access.codes import AccountRole, DataService, SubjectKind
from kwartier.access.contracts import provider_party, register_contract
from kwartier.access.mandate_service import MandateRequest, decide, request_mandate
from kwartier.access.occupancy import customer_occupancy
from kwartier.access.tokens import resolve_bearer
from kwartier.config import Settings
from kwartier.domain.ean import check_digit
from kwartier.market import service
from kwartier.market.readings import StoreReadings
from kwartier.registry.access_points import AccessPoint
from kwartier.registry.codes import MeterKind, PartyRole
from kwartier.registry.data_access import Account
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.registry.parties import Party, PartyRoleAssignment
from kwartier.registry.sharing_groups import SharingGroup, SharingParticipation
from kwartier.server import create_app
from kwartier.sharing.demo import DEMO_GROUP

PASSWORD: Final = "kwartier-demo-2026"
PROVIDER_GLN: Final = "541449900099" + str(check_digit("541449900099"))  # GS1 GLN-13
PROVIDER_NAME: Final = "Energie Inzicht BV"
ENTERPRISE: Final = "0412345678"
CONTRACT: Final = "DAC-DEMO-1"


@dataclass(frozen=True)
class DataMarketSeed:
    """What the demo seeded, for the "where to click" text."""

    accounts: dict[str, str]  # login → what it shows
    consent_path: str | None  # Bert's pending request
    provider_credentials: Path
    reads: int


def seed_data_market(settings: Settings, days: list[date], now: datetime) -> DataMarketSeed | None:
    """Seed the data market (see the module docstring); None when it was seeded before or the region has
    fewer than four digital electricity meters."""
    credentials_file = settings.home / "secrets" / "demo-provider.json"
    app = create_app(settings, clock=lambda: now)
    hub = app.state.hub
    with hub.sessions() as session:
        if session.scalar(sa.select(Account.id).where(Account.login == "ops@kwartier.demo")) is not None:
            return None
        eans = _digital_electricity(session)
        if len(eans) < 4:
            return None
        ann_ean = _community_member(session) or eans[0]
        others = [e for e in eans if e != ann_ean]
        homes = {"DEMO-ANN": [ann_ean], "DEMO-BERT": [others[0]], ENTERPRISE: others[1:3]}
        readings = StoreReadings(hub.store, hub.pseudonymiser)
        for customer, held in homes.items():
            for ean in held:
                _move_in(session, readings, ean, customer, days[0])
        service.tick(session, now, readings)
    with hub.transaction() as session:
        party = provider_party(session, PROVIDER_GLN, PROVIDER_NAME, date(2020, 1, 1))
        people: tuple[tuple[str, AccountRole, str | None], ...] = (
            ("ops@kwartier.demo", AccountRole.OPERATOR, None),
            ("ann@kwartier.demo", AccountRole.GRID_USER, "DEMO-ANN"),
            ("bert@kwartier.demo", AccountRole.GRID_USER, "DEMO-BERT"),
            ("facility@bakkerij.demo", AccountRole.GRID_USER, ENTERPRISE),
        )
        for login, role, reference in people:
            create_account(
                session,
                hub.sealer,
                login=login,
                password=PASSWORD,
                role=role,
                now=now,
                customer_ref=reference,
                language="en" if login.startswith("bert") else "nl",
            )
        credentials = register_contract(
            session, hub.sealer, party_code=party.code, reference=CONTRACT, valid_from=days[0], now=now
        )
    _write_credentials(
        credentials_file, credentials.client_id, credentials.client_secret, credentials.webhook_secret
    )
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials.client_id, credentials.client_secret),
        ).json()["access_token"]
        with hub.transaction() as session:
            provider = resolve_bearer(session, token, now)
            assert provider is not None
            period = (days[0], days[-1] + timedelta(days=1))
            every = frozenset(DataService)
            asks = {
                "ann": _ask(SubjectKind.ACCESS_POINT, ann_ean, every, period, now, "ann-1"),
                "bert": _ask(SubjectKind.ACCESS_POINT, others[0], every, period, now, "bert-1"),
                "bakkerij": _ask(
                    SubjectKind.ENTERPRISE, ENTERPRISE, frozenset({DataService.DAILY}), period, now, "bk-1"
                ),
            }
            made = {name: request_mandate(session, provider, ask, now) for name, ask in asks.items()}
            for name, login in (("ann", "ann@kwartier.demo"), ("bakkerij", "facility@bakkerij.demo")):
                holder = session.scalar(sa.select(Account).where(Account.login == login))
                assert holder is not None
                decide(session, holder, made[name][0], True, now)
        reads = 0
        headers = {"Authorization": f"Bearer {token}"}
        for ean, granularity in ((ann_ean, "quarter"), (ann_ean, "day"), (others[1], "day")):
            response = client.get(
                f"/api/v1/access-points/{ean}/energy",
                params={
                    "from": period[0].isoformat(),
                    "to": period[1].isoformat(),
                    "granularity": granularity,
                },
                headers=headers,
            )
            reads += response.status_code == 200
    return DataMarketSeed(
        accounts={
            "ann@kwartier.demo": "household in the energy community, mandate approved and read",
            "bert@kwartier.demo": "household with a mandate request to approve (English)",
            "facility@bakkerij.demo": "organisation with two access points, enterprise mandate",
            "ops@kwartier.demo": "operator: API usage per provider",
        },
        consent_path=f"/consent/{made['bert'][1]}",
        provider_credentials=credentials_file,
        reads=reads,
    )


def _ask(
    kind: SubjectKind,
    subject: str,
    services: frozenset[DataService],
    period: tuple[date, date],
    now: datetime,
    ref: str,
) -> MandateRequest:
    return MandateRequest(
        subject_kind=kind,
        subject=subject,
        services=services,
        data_from=period[0],
        data_to=period[1],
        expires_at=now + timedelta(days=365),
        reference=ref,
        return_url=None,
    )


def _digital_electricity(session: Session) -> list[str]:
    return list(
        session.scalars(
            sa.select(AccessPoint.ean)
            .join(MeterInstallation, MeterInstallation.ean == AccessPoint.ean)
            .join(Meter, Meter.id == MeterInstallation.meter_id)
            .where(AccessPoint.energy == "electricity", Meter.kind == MeterKind.DIGITAL)
            .order_by(AccessPoint.ean)
            .limit(50)
        )
    )


def _community_member(session: Session) -> str | None:
    return session.scalar(
        sa.select(SharingParticipation.ean)
        .join(SharingGroup, SharingGroup.id == SharingParticipation.group_id)
        .where(SharingGroup.code == DEMO_GROUP)
        .order_by(SharingParticipation.ean)
        .limit(1)
    )


def _move_in(session: Session, readings: StoreReadings, ean: str, customer: str, day: date) -> None:
    if customer_occupancy(session, customer, [ean]):
        return
    supplier = session.scalar(
        sa.select(Party.code)
        .join(PartyRoleAssignment, PartyRoleAssignment.party_id == Party.id)
        .where(PartyRoleAssignment.role == PartyRole.SUPPLIER)
        .order_by(Party.code)
        .limit(1)
    )
    brp = session.scalar(
        sa.select(Party.code)
        .join(PartyRoleAssignment, PartyRoleAssignment.party_id == Party.id)
        .where(PartyRoleAssignment.role == PartyRole.BRP)
        .order_by(Party.code)
        .limit(1)
    )
    document = {
        "type": "move_in",
        "version": 1,
        "message_id": f"demo-move-in-{customer}-{ean}",
        "sender": supplier,
        "received_at": f"{day.isoformat()}T08:00:00Z",
        "ean": ean,
        "customer": customer,
        "move_date": day.isoformat(),
        "brp": brp,
    }
    service.apply_message(session, json.dumps(document), readings)


def _write_credentials(path: Path, client_id: str, client_secret: str, webhook_secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(
            {"client_id": client_id, "client_secret": client_secret, "webhook_secret": webhook_secret},
            out,
            indent=2,
        )
