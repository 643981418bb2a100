"""Signing in and out, the start page and the language switch.

Rules: a failed sign-in answers 401 with one generic message (neither whether the login exists nor which
part was wrong, :func:`kwartier.access.accounts.authenticate`); a successful one starts a new session and
returns to the page asked for (a path on this site only); signing out ends the session in the registry.
Password guessing is slowed per login: :data:`SIGNIN_BURST` attempts, then one per
1/:data:`SIGNIN_RATE_PER_SECOND` seconds, answered 429 with ``Retry-After`` and checking nothing.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kwartier.access.accounts import authenticate, end_session, start_session
from kwartier.access.codes import AccountRole
from kwartier.access.rate_limits import TokenBuckets
from kwartier.portal.i18n import LANGUAGES
from kwartier.portal.web import (
    ANONYMOUS_CSRF_COOKIE,
    LANGUAGE_COOKIE,
    LANGUAGE_COOKIE_SECONDS,
    SESSION_COOKIE,
    CheckedForm,
    HubDep,
    PortalError,
    Viewer,
    Visitor,
    form_text,
    redirect,
    render,
    safe_next,
    secure_cookies,
)
from kwartier.registry.data_access import Account

router = APIRouter()

SIGNIN_BURST: Final = 10
SIGNIN_RATE_PER_SECOND: Final = 1 / 30


def home_of(visitor: Viewer) -> str:
    """Where a signed-in visitor starts."""
    return "/operator/usage" if visitor.role is AccountRole.OPERATOR else "/access-points"


@router.get("/")
def start(request: Request, visitor: Visitor) -> Response:
    """To the visitor's start page, or to sign in."""
    if not visitor.signed_in:
        return redirect(request, "/signin")
    if visitor.role not in (AccountRole.GRID_USER, AccountRole.OPERATOR):
        raise PortalError(403, "role.none")
    return redirect(request, home_of(visitor))


@router.get("/signin")
def signin_page(request: Request, visitor: Visitor, next: str | None = None) -> Response:
    """The sign-in form (a signed-in visitor goes straight on)."""
    target = safe_next(next)
    if visitor.signed_in:
        return redirect(request, target)
    return render(request, visitor, "signin.html", next_path=target, failed=False, login="")


@router.post("/signin")
def signin(request: Request, hub: HubDep, visitor: Visitor, form: CheckedForm) -> Response:
    """Check the login and password; on success a new session cookie and back to the page asked for."""
    login, password = form_text(form, "login"), form_text(form, "password")
    target = safe_next(form_text(form, "next"))
    limits: TokenBuckets = request.app.state.portal_signin_limits
    wait = limits.take(login.lower(), hub.now().timestamp())
    if wait:
        page = render(
            request, visitor, "signin.html", status_code=429, next_path=target, failed=True, login=login
        )
        page.headers["Retry-After"] = str(wait)
        return page
    with hub.transaction() as session:
        account = authenticate(session, login, password) if login and password else None
        token = start_session(session, account, hub.now()) if account is not None else None
    if token is None:
        return render(
            request, visitor, "signin.html", status_code=401, next_path=target, failed=True, login=login
        )
    response = redirect(request, target)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure_cookies(request), path="/"
    )
    response.delete_cookie(ANONYMOUS_CSRF_COOKIE)
    return response


@router.post("/signout")
def signout(request: Request, hub: HubDep, visitor: Visitor, form: CheckedForm) -> Response:
    """End the session and forget its cookie."""
    if visitor.session_token is not None:
        with hub.transaction() as session:
            end_session(session, visitor.session_token, hub.now())
    response = redirect(request, "/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
def language(request: Request, hub: HubDep, visitor: Visitor, form: CheckedForm) -> Response:
    """Switch the language: kept in a cookie, and as the account's choice when signed in."""
    chosen = form_text(form, "language")
    if chosen not in LANGUAGES:
        raise PortalError(400, "error.400")
    if visitor.account_id is not None:
        with hub.transaction() as session:
            account = session.get(Account, visitor.account_id)
            if account is not None:
                account.language = chosen
    response = redirect(request, safe_next(form_text(form, "next")))
    response.set_cookie(
        LANGUAGE_COOKIE,
        chosen,
        max_age=LANGUAGE_COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return response
