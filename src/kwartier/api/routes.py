"""All ``/api/v1`` routes, gathered from their modules."""

from __future__ import annotations

from fastapi import APIRouter

from kwartier.api import data, exports, health, mandates, market, oauth, operations

router = APIRouter()
for module in (health, oauth, mandates, data, exports, operations, market):
    router.include_router(module.router)
