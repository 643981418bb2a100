"""``GET /api/v1/health``: answers without credentials whether the server runs and reaches its registry."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from kwartier import __version__
from kwartier.hub import Hub, current_hub

router = APIRouter(tags=["status"])


class Health(BaseModel):
    """The server runs; ``registry`` says whether the registry database answers."""

    status: Literal["ok", "degraded"]
    version: str
    registry: bool


@router.get("/health", response_model=Health)
def health(hub: Annotated[Hub, Depends(current_hub)]) -> Health:
    """Liveness and readiness, without credentials."""
    try:
        with hub.sessions() as session:
            session.execute(sa.text("SELECT 1"))
        reachable = True
    except sa.exc.SQLAlchemyError:
        reachable = False
    return Health(status="ok" if reachable else "degraded", version=__version__, registry=reachable)
