"""A data home for the portal tests, on the API tests' world (:func:`tests.api.conftest.build_world`: the
real Mijn Fluvius export ingested under E1, customer C0 there until 2023-12-01 and C1 from then on, the
provider "Inzicht BV" with a contract, the clock at 2025-05-01 12:00 UTC), plus:

- an organisation (enterprise number :data:`ORG`) that moved into E2 and E3 on 2024-06-01, with its
  account; E2 has a classic meter, E3 a PV installation;
- a day of E1 after the export (2025-04-28) whose evening is estimated, so measured and estimated
  quarters differ;
- the kept billing data (``kwartier billing-refresh``);
- two mandate requests of the provider: one for E1 (consent token :attr:`PortalWorld.consent`) and one for
  the organisation's enterprise number; a mandate C0 granted on E1 for its own period.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

import pyarrow as pa
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.api.conftest import NOW, PASSWORD, build_world
from tests.market.helpers import E1, E2, E3, STROOM, Readings
from typer.testing import CliRunner

from kwartier.access.accounts import Principal, create_account
from kwartier.access.codes import AccountRole, DataService, SubjectKind
from kwartier.access.mandate_service import MandateRequest, decide, request_mandate
from kwartier.access.sealing import Sealer
from kwartier.cli import app as cli
from kwartier.config import Settings, load_settings
from kwartier.domain.timegrid import quarter_hours
from kwartier.market import service
from kwartier.registry.data_access import Account, ApiClient
from kwartier.registry.database import open_registry
from kwartier.schema import STORED_READINGS
from kwartier.server import create_app
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore

ORG: Final = "0123456789"
ORG_MOVED_IN: Final = date(2024, 6, 1)
ESTIMATED_DAY: Final = date(2025, 4, 28)
C1 = "c1@example.be"
C0 = "c0@example.be"
ORG_LOGIN = "energie@bedrijf.example.be"
OPERATOR = "ops@dso.example.be"
RETURN_URL = "https://provider.example/back?session=7"

__all__ = ["C0", "C1", "E1", "E2", "E3", "NOW", "OPERATOR", "ORG", "ORG_LOGIN", "PASSWORD", "PortalWorld"]


@dataclass(frozen=True)
class PortalWorld:
    """The prepared data home and the secrets the tests need."""

    settings: Settings
    consent: str  # consent token of the provider's request for E1
    org_consent: str  # consent token of the request for the organisation's enterprise number
    c0_mandate: str  # id of the mandate C0 approved on E1


def _org_move_in(settings: Settings) -> None:
    sessions = open_registry(settings.registry_url)
    readings = Readings({(ean, ORG_MOVED_IN): {"offtake/day": 100} for ean in (E2, E3)})
    with sessions() as session:
        for ean in (E2, E3):
            document = {
                "type": "move_in",
                "version": 1,
                "message_id": f"mi-org-{ean}",
                "sender": STROOM,
                "received_at": f"{ORG_MOVED_IN.isoformat()}T09:00:00Z",
                "ean": ean,
                "customer": ORG,
                "move_date": ORG_MOVED_IN.isoformat(),
                "brp": STROOM,
                "index": {"offtake/day": 100},
            }
            answer = service.apply_message(session, json.dumps(document), readings)
            assert answer["accepted"], answer


def _estimated_evening(settings: Settings) -> None:
    """E1 on :data:`ESTIMATED_DAY`: 0.100 kWh per quarter measured until 18:00, 0.250 kWh estimated after."""
    starts = quarter_hours(ESTIMATED_DAY)
    evening = datetime(2025, 4, 28, 16, tzinfo=UTC)  # 18:00 in Brussels (CEST)
    rows = len(starts)
    ap = Pseudonymiser.from_key_file(settings.pseudonym_key_file).of(E1)
    recorded = datetime(2025, 4, 29, 6, tzinfo=UTC)
    table = pa.table(
        {
            "ap": [ap] * rows,
            "channel": ["offtake"] * rows,
            "tariff": ["day" if 5 <= s.hour < 20 else "night" for s in starts],
            "start": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "minutes": [15] * rows,
            "value": [250 if s >= evening else 100 for s in starts],
            "status": ["estimated" if s >= evening else "measured" for s in starts],
            "rule": pa.nulls(rows, pa.string()),
            "method": pa.array(["E1" if s >= evening else None for s in starts], pa.string()),
            "batch": ["portal-estimated"] * rows,
            "recorded_at": pa.array([recorded] * rows, pa.timestamp("us", tz="UTC")),
        },
        schema=STORED_READINGS,
    )
    store = MeterStore.open(settings.store_dir)
    with store.stage("portal-estimated") as staged:
        staged.write_table("readings", table)
        store.commit(staged, {})


def _mandates(settings: Settings) -> tuple[str, str, str]:
    sessions = open_registry(settings.registry_url)
    with sessions() as session, session.begin():
        client = session.scalars(sa.select(ApiClient)).one()
        provider = Principal(
            role=AccountRole.PROVIDER,
            account_id=None,
            customer_ref=None,
            party_id=None,
            client_id=client.client_id,
            contract_id=client.contract_id,
        )
        expires = NOW + timedelta(days=365)
        services = frozenset({DataService.DAILY, DataService.QUARTER_HOUR})
        _, consent = request_mandate(
            session,
            provider,
            MandateRequest(
                SubjectKind.ACCESS_POINT,
                E1,
                services,
                date(2024, 1, 1),
                date(2025, 5, 1),
                expires,
                "order-17",
                RETURN_URL,
            ),
            NOW,
        )
        _, org_consent = request_mandate(
            session,
            provider,
            MandateRequest(
                SubjectKind.ENTERPRISE,
                ORG,
                frozenset({DataService.PEAKS}),
                date(2024, 6, 1),
                date(2025, 5, 1),
                expires,
                "fleet-3",
            ),
            NOW,
        )
        old, _ = request_mandate(
            session,
            provider,
            MandateRequest(
                SubjectKind.ACCESS_POINT,
                E1,
                frozenset({DataService.DAILY}),
                date(2023, 10, 22),
                date(2023, 12, 1),
                expires,
                "predecessor-secret-ref",
            ),
            NOW,
        )
        c0 = session.scalars(sa.select(Account).where(Account.login == C0)).one()
        decide(session, c0, old, True, NOW)
        return consent, org_consent, old.id


def build_portal_world(home: Path, samples_dir: Path) -> PortalWorld:
    """The data home described in the module docstring."""
    world = build_world(home, samples_dir)
    settings = world.settings
    _org_move_in(settings)
    _estimated_evening(settings)
    result = CliRunner().invoke(cli, ["billing-refresh", "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    sessions = open_registry(settings.registry_url)
    with sessions() as session, session.begin():
        create_account(
            session,
            Sealer.from_settings(settings),
            login=ORG_LOGIN,
            password=PASSWORD,
            role=AccountRole.GRID_USER,
            now=NOW,
            customer_ref=ORG,
            name="Bedrijf NV",
            language="en",
        )
    consent, org_consent, c0_mandate = _mandates(settings)
    return PortalWorld(settings, consent, org_consent, c0_mandate)


@pytest.fixture(scope="session")
def portal_template(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> tuple[Path, PortalWorld]:
    """The data home, built once per test run."""
    root = tmp_path_factory.mktemp("portal-world")
    return root, build_portal_world(root / "home", samples_dir)


@pytest.fixture
def world(portal_template: tuple[Path, PortalWorld], tmp_path: Path) -> PortalWorld:
    """A fresh copy of the data home for one test."""
    root, template = portal_template
    home = tmp_path / "home"
    shutil.copytree(root / "home", home)
    return PortalWorld(load_settings(home), template.consent, template.org_consent, template.c0_mandate)


class Clock:
    """The server's clock, which a test can move."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The clock at :data:`NOW`."""
    return Clock(NOW)


@pytest.fixture
def client(world: PortalWorld, clock: Clock) -> Iterator[TestClient]:
    """A browser-like client of the portal (no redirects followed, so each answer can be checked)."""
    with TestClient(create_app(world.settings, clock=clock), follow_redirects=False) as test_client:
        yield test_client
