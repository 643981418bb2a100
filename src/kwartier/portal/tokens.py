"""Personal API tokens: a household creates and revokes its own, to pull its data into home tools
(reference/data-access.md item 4). A new token is shown once, in the answer to its creation, and never
again: the registry keeps only its hash."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kwartier.access import tokens as token_service
from kwartier.portal.my_data import own_account
from kwartier.portal.web import (
    CheckedForm,
    GridUser,
    HubDep,
    form_text,
    not_found,
    redirect,
    render,
)

router = APIRouter()


def _page(
    request: Request,
    hub: HubDep,
    visitor: GridUser,
    *,
    created: str | None,
    status_code: int = 200,
    problem: str | None = None,
) -> Response:
    """The tokens page; ``created``: a new token to show once."""
    with hub.transaction() as session:
        listed = token_service.personal_tokens(session, own_account(session, visitor), hub.now())
    return render(
        request,
        visitor,
        "tokens.html",
        status_code=status_code,
        tokens=listed,
        created=created,
        problem=problem,
    )


@router.get("/tokens")
def tokens_page(request: Request, hub: HubDep, visitor: GridUser) -> Response:
    """The household's live personal tokens and the form to create one."""
    return _page(request, hub, visitor, created=None)


@router.post("/tokens")
def create(request: Request, hub: HubDep, visitor: GridUser, form: CheckedForm) -> Response:
    """Create a token and show it once."""
    try:
        with hub.transaction() as session:
            _, token = token_service.create_personal_token(
                session, own_account(session, visitor), form_text(form, "label"), hub.now()
            )
    except token_service.TokenError:
        return _page(request, hub, visitor, created=None, status_code=400, problem="tokens.problem")
    return _page(request, hub, visitor, created=token, status_code=201)


@router.post("/tokens/{token_id}/revoke")
def revoke(request: Request, hub: HubDep, visitor: GridUser, token_id: str, form: CheckedForm) -> Response:
    """Revoke one of the household's tokens at once; another's is answered 404."""
    try:
        with hub.transaction() as session:
            token_service.revoke_personal_token(session, own_account(session, visitor), token_id, hub.now())
    except token_service.TokenError:
        raise not_found() from None
    return redirect(request, "/tokens")
