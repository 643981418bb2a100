"""A data home for the API tests: the small market of tests/market (E1 a digital meter), the real Mijn
Fluvius export (Oct 2023 – Apr 2025) ingested under E1, customer C0 living there until 2023-12-01 and C1
from then on (market move-ins), an energy service provider with a contract, and the server's clock fixed
at 2025-05-01 12:00 UTC."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kwartier.access.accounts import create_account
from kwartier.access.codes import AccountRole
from kwartier.access.contracts import Credentials, provider_party, register_contract
from kwartier.access.tokens import create_personal_token
from kwartier.cli import app as cli
from kwartier.config import Settings, load_settings
from kwartier.market import service
from kwartier.registry.data_access import Account
from kwartier.registry.master_data import load_master_data
from kwartier.server import create_app
from tests.market.conftest import MASTER
from tests.market.helpers import DSO, E1, E2, STROOM, Readings

NOW = datetime(2025, 5, 1, 12, tzinfo=UTC)
PROVIDER = "5414499000079"
SAMPLE = "Consumption_history_electricity_541448820052377134_20231022_20250426_15 minute totals.csv"
SAMPLE_EAN = "123456879123456789"
PASSWORD = "correct horse battery"
C1_MOVED_IN = date(2023, 12, 1)


@dataclass(frozen=True)
class World:
    """The prepared data home and who is in it."""

    settings: Settings
    credentials: Credentials
    operator_token: str
    c1_token: str
    c0_token: str


def _move_in(session: sa.orm.Session, message_id: str, customer: str, day: date, readings: Readings) -> None:
    document = {
        "type": "move_in",
        "version": 1,
        "message_id": message_id,
        "sender": STROOM,
        "received_at": f"{day.isoformat()}T09:00:00Z",
        "ean": E1,
        "customer": customer,
        "move_date": day.isoformat(),
        "brp": STROOM,
    }
    answer = service.apply_message(session, json.dumps(document), readings)
    assert answer["accepted"], answer


def build_world(home: Path, samples_dir: Path, webhook_url: str | None = None) -> World:
    """Build the data home described in the module docstring."""
    settings = load_settings(home)
    source = (samples_dir / "mijn-fluvius" / SAMPLE).read_text(encoding="utf-8-sig")
    relabelled = home.parent / "e1.csv"
    relabelled.write_text(source.replace(SAMPLE_EAN, E1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest", str(relabelled), "--home", str(home), "--json"])
    assert result.exit_code in (0, 3), result.output
    client = TestClient(create_app(settings, clock=lambda: NOW))
    hub = client.app.state.hub  # type: ignore[attr-defined]
    readings = Readings(
        {(E1, date(2023, 10, 22)): {"offtake/day": 1000}, (E1, C1_MOVED_IN): {"offtake/day": 2000}}
    )
    with hub.sessions() as session:
        with session.begin():
            load_master_data(session, MASTER)
            provider_party(session, PROVIDER, "Inzicht BV", date(2020, 1, 1))
        _move_in(session, "mi-c0", "C0", date(2023, 10, 22), readings)
        _move_in(session, "mi-c1", "C1", C1_MOVED_IN, readings)
        with session.begin():
            accounts = {}
            for login, role, customer in (
                ("c1@example.be", AccountRole.GRID_USER, "C1"),
                ("c0@example.be", AccountRole.GRID_USER, "C0"),
                ("ops@dso.example.be", AccountRole.OPERATOR, None),
            ):
                accounts[login] = create_account(
                    session,
                    hub.sealer,
                    login=login,
                    password=PASSWORD,
                    role=role,
                    now=NOW,
                    customer_ref=customer,
                )
            tokens = {
                login: create_personal_token(session, a, "tests", NOW)[1] for login, a in accounts.items()
            }
            credentials = register_contract(
                session,
                hub.sealer,
                party_code=PROVIDER,
                reference="DAC-1",
                valid_from=date(2024, 1, 1),
                now=NOW,
                webhook_url=webhook_url,
            )
    return World(
        settings, credentials, tokens["ops@dso.example.be"], tokens["c1@example.be"], tokens["c0@example.be"]
    )


@pytest.fixture(scope="module")
def world_template(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> tuple[Path, World]:
    """The data home, built once per module."""
    root = tmp_path_factory.mktemp("world")
    return root, build_world(root / "home", samples_dir)


@pytest.fixture
def world(world_template: tuple[Path, World], tmp_path: Path) -> World:
    """A fresh copy of the data home for one test."""
    root, template = world_template
    home = tmp_path / "home"
    shutil.copytree(root / "home", home)
    settings = load_settings(home)
    return World(
        settings, template.credentials, template.operator_token, template.c1_token, template.c0_token
    )


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    """A client of the server on the world's data home (background thread running)."""
    with TestClient(create_app(world.settings, clock=lambda: NOW)) as client:
        yield client


def provider_token(api: TestClient, world: World) -> dict[str, str]:
    """The provider's bearer header, from the token endpoint."""
    response = api.post(
        "/api/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": world.credentials.client_id,
            "client_secret": world.credentials.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def account(world: World, login: str) -> Account:
    """The account of ``login``."""
    from kwartier.registry.database import open_registry  # noqa: PLC0415

    with open_registry(world.settings.registry_url)() as session:
        found = session.scalar(sa.select(Account).where(Account.login == login))
    assert found is not None
    return found


__all__ = ["DSO", "E1", "E2", "NOW", "PASSWORD", "PROVIDER", "World", "account", "provider_token"]
