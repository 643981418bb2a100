"""Who calls the API, and whether they may (issue 6 "Security" and "Fair use").

Rules:
- every route except health, status, the token endpoint and the OpenAPI description needs a bearer token
  (:mod:`kwartier.access.tokens`); a missing, unknown, expired or revoked token → 401 with
  ``WWW-Authenticate: Bearer``; a valid token of the wrong role → 403 (deny by default: each route names
  the roles it admits);
- each client (or personal token's account) has a token bucket on the normal lane
  (:class:`kwartier.access.rate_limits.TokenBuckets`); beyond it → 429 with ``Retry-After``;
- every authenticated call is counted for the operators' usage dashboard.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from kwartier.access.accounts import Principal
from kwartier.access.codes import AccountRole
from kwartier.access.tokens import resolve_bearer
from kwartier.hub import Hub, current_hub

API_VERSION = "v1"


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def principal(request: Request, hub: Annotated[Hub, Depends(current_hub)]) -> Principal:
    """The caller of a bearer-token request, rate-limited and counted."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorised("a bearer token is needed")
    with hub.sessions() as session:
        caller = resolve_bearer(session, token.strip(), hub.now())
    if caller is None:
        raise _unauthorised("the token is unknown, expired or revoked")
    wait = hub.api_limits.take(caller.actor, time.monotonic())
    route = request.scope.get("route")
    call = f"{request.method} {getattr(route, 'path', request.url.path)}"
    hub.usage.count(hub.now().date(), caller.client_id or caller.actor, call, API_VERSION, refused=bool(wait))
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "rate limit exceeded", headers={"Retry-After": str(wait)}
        )
    return caller


def admits(*roles: AccountRole) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that lets only ``roles`` through (403 otherwise; a coroutine: it does no I/O, so it
    runs on the event loop instead of a worker thread)."""

    async def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this route is not open to your role")
        return caller

    return check


Caller = Annotated[Principal, Depends(principal)]
Provider = Annotated[Principal, Depends(admits(AccountRole.PROVIDER))]
Operator = Annotated[Principal, Depends(admits(AccountRole.OPERATOR))]
GridUser = Annotated[Principal, Depends(admits(AccountRole.GRID_USER))]
DataReader = Annotated[Principal, Depends(admits(AccountRole.PROVIDER, AccountRole.GRID_USER))]
HubDep = Annotated[Hub, Depends(current_hub)]
