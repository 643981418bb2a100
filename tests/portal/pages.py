"""Helpers of the portal tests: sign in like a browser and read the CSRF token of a page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response
from tests.api.conftest import PASSWORD

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: Response) -> str:
    """The CSRF token of the first form on ``page``."""
    found = _CSRF.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def sign_in(client: TestClient, login: str, password: str = PASSWORD, next_path: str = "/") -> Response:
    """Sign in through the form; returns the answer to the POST (a redirect on success)."""
    form = client.get("/signin")
    answer: Response = client.post(
        "/signin", data={"login": login, "password": password, "next": next_path, "csrf": csrf_of(form)}
    )
    return answer


def signed_in(client: TestClient, login: str) -> str:
    """Sign in and return the CSRF token of the session."""
    answer = sign_in(client, login)
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/tokens" if "ops@" not in login else "/operator/usage"))
