"""Schemathesis against the application's own OpenAPI description: generated requests, authenticated as a
provider with an approved mandate (and, for the household and operator routes, as those), never get a
server error, and every response matches its documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from kwartier.access.mandate_service import decide, mandate_by_consent
from kwartier.access.rate_limits import TokenBuckets
from kwartier.registry.database import open_registry
from kwartier.server import create_app
from tests.api.conftest import E1, NOW, World, account, provider_token

CHECKS = (not_a_server_error, response_schema_conformance, content_type_conformance)


@pytest.fixture
def served(world: World) -> Iterator[tuple[Any, dict[str, str]]]:
    """The application, and a provider's headers with an approved mandate on E1."""
    app = create_app(world.settings, clock=lambda: NOW)
    with TestClient(app) as client:
        headers = provider_token(client, world)
        created = client.post(
            "/api/v1/mandates",
            json={
                "subject": E1,
                "services": ["quarter_hour", "daily", "peaks", "installation", "sharing"],
                "data_from": "2023-12-01",
                "data_to": "2025-05-01",
                "expires_at": "2026-01-01T00:00:00Z",
                "reference": "schemathesis",
            },
            headers=headers,
        ).json()
        with open_registry(world.settings.registry_url)() as session, session.begin():
            mandate = mandate_by_consent(session, created["consent_url"].rsplit("/", 1)[1])
            assert mandate is not None
            decide(session, account(world, "c1@example.be"), mandate, True, NOW)
        yield app, headers


def _headers(path: str, provider: dict[str, str], world: World) -> dict[str, str]:
    if path.startswith(("/api/v1/operator", "/api/v1/contracts")):
        return {"Authorization": f"Bearer {world.operator_token}"}
    if path.startswith("/api/v1/me/"):
        return {"Authorization": f"Bearer {world.c1_token}"}
    return provider


def _examples(operation: Any, headers: dict[str, str], seen: list[int]) -> Any:
    """A Hypothesis test calling ``operation`` with generated data and checking every response."""

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen.append(response.status_code)

    return run


def test_no_server_error_and_every_response_matches_its_schema(
    served: tuple[Any, dict[str, str]], world: World
) -> None:
    app, provider = served
    app.state.hub.api_limits = TokenBuckets(rate=1000, capacity=100_000)  # fair use is tested in test_api
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation of the description loads
        operations.append(result.ok())
    assert len(operations) >= 15
    seen: list[int] = []
    for operation in operations:
        if operation.path != "/api/v1/clients/rotate":  # would retire the credentials; tested in test_api
            _examples(operation, _headers(operation.path, provider, world), seen)()
    # the data routes were reached with real answers, not only refusals
    assert {200, 403, 422} <= set(seen) and len(seen) > 100, sorted(set(seen))
