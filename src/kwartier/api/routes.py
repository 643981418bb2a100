"""All ``/api/v1`` routes, gathered from their modules."""

from __future__ import annotations

from fastapi import APIRouter

from kwartier.api import health

router = APIRouter()
router.include_router(health.router)
