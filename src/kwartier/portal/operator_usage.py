"""The operator's dashboard of API use per provider, per call type and per API version over a rolling 30
days (seed 000 §7.2), from :func:`kwartier.access.usage.usage_dashboard`. Operators only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kwartier.access.usage import UsageLine, usage_dashboard
from kwartier.portal.web import HubDep, Operator, render

router = APIRouter()


def totals(lines: Iterable[UsageLine], key: Callable[[UsageLine], str]) -> list[tuple[str, int, int]]:
    """(name, calls, refused) per ``key``, most calls first, then by name."""
    calls: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for line in lines:
        calls[key(line)] += line.calls
        refused[key(line)] += line.refused
    return sorted(((name, calls[name], refused[name]) for name in calls), key=lambda t: (-t[1], t[0]))


@router.get("/operator/usage")
def usage(request: Request, hub: HubDep, visitor: Operator) -> Response:
    """API use over the last 30 days, three ways."""
    with hub.transaction() as session:
        lines = usage_dashboard(session, hub.now())
    return render(
        request,
        visitor,
        "operator_usage.html",
        lines=lines,
        per_provider=totals(lines, lambda line: line.provider),
        per_call=totals(lines, lambda line: line.call),
        per_version=totals(lines, lambda line: line.version),
    )
