"""All portal routes, gathered from their modules (none of them appears in the OpenAPI description)."""

from __future__ import annotations

from fastapi import APIRouter

from kwartier.portal.access_points import router as access_points
from kwartier.portal.consent import router as consent
from kwartier.portal.my_data import router as my_data
from kwartier.portal.oidc_signin import router as oidc_signin
from kwartier.portal.operator_usage import router as operator_usage
from kwartier.portal.signin import router as signin
from kwartier.portal.tokens import router as tokens

router = APIRouter(include_in_schema=False)
for part in (signin, oidc_signin, access_points, my_data, consent, tokens, operator_usage):
    router.include_router(part)
