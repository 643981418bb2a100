"""What every portal page shares: who is signed in, the language, CSRF tokens, rendering and errors.

Rules (issue 6 "Security"):
- deny by default: a page names the roles it admits through :func:`grid_user` or :func:`operator`;
  without a live session the visitor is sent to ``/signin`` (and back afterwards), with another role the
  answer is 403, and an access point that is not the customer's is answered 404 with no data;
- the session cookie is HttpOnly, SameSite=Lax, and Secure when the page is served over https;
- every POST form carries a CSRF token: for a signed-in visitor the HMAC-SHA256 of the session token
  (secret, HttpOnly) under a fixed label, so no state is kept; before sign-in a random value that is also
  kept in a cookie (double submit). A missing or wrong token is refused with 403 and changes nothing;
- a ``next`` address after sign-in is only ever a path on this site (no open redirect);
- personal pages are never cached and send no Referer (a consent link's token stays on this site).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from kwartier.access.accounts import account_name, session_account
from kwartier.access.codes import AccountRole
from kwartier.domain.timegrid import BRUSSELS
from kwartier.hub import Hub, current_hub, hub_of
from kwartier.portal.i18n import CATALOGUES, LANGUAGES, choose_language, translate

SESSION_COOKIE: Final = "kwartier_session"
LANGUAGE_COOKIE: Final = "kwartier_lang"
ANONYMOUS_CSRF_COOKIE: Final = "kwartier_csrf"
CSRF_FIELD: Final = "csrf"
_CSRF_LABEL: Final = b"kwartier portal csrf v1"
LANGUAGE_COOKIE_SECONDS: Final = 365 * 24 * 3600

PORTAL_DIR: Final = Path(__file__).parent
TEMPLATES_DIR: Final = PORTAL_DIR / "templates"
STATIC_DIR: Final = PORTAL_DIR / "static"

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Viewer:
    """The visitor of a page: the signed-in account's facts (None when signed out) and the language."""

    language: str
    session_token: str | None = None
    account_id: int | None = None
    role: AccountRole | None = None
    customer_ref: str | None = None
    login: str | None = None
    name: str | None = None

    @property
    def signed_in(self) -> bool:
        """Whether a live session belongs to this visitor."""
        return self.account_id is not None


class PortalError(HTTPException):
    """An error page: ``message`` is a catalogue key, shown in the visitor's language."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code=status_code, detail=message)
        self.message = message


class SignInRequiredError(PortalError):
    """No live session: the visitor is sent to ``/signin`` and comes back to ``next_path`` afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(303, "signin.title")
        self.next_path = next_path


def not_found() -> PortalError:
    """The answer for anything the visitor may not see: the same as for something that does not exist."""
    return PortalError(404, "error.404")


# -- who is visiting -------------------------------------------------------------------------------------


def viewer(request: Request) -> Viewer:
    """The visitor of ``request``: the account of a live session cookie, if any, and the page language."""
    cached: Viewer | None = getattr(request.state, "portal_viewer", None)
    if cached is not None:
        return cached
    hub = hub_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    header = request.headers.get("accept-language")
    found = None
    if token:
        with hub.transaction() as session:
            account = session_account(session, token, hub.now())
            if account is not None:
                found = Viewer(
                    language=choose_language(account.language, None, None),
                    session_token=token,
                    account_id=account.id,
                    role=account.role,
                    customer_ref=account.customer_ref,
                    login=account.login,
                    name=account_name(hub.sealer, account),
                )
    if found is None:
        found = Viewer(language=choose_language(None, request.cookies.get(LANGUAGE_COOKIE), header))
    request.state.portal_viewer = found
    return found


def signed_in(request: Request, visitor: Annotated[Viewer, Depends(viewer)]) -> Viewer:
    """The signed-in visitor; without a live session the visitor is sent to sign in."""
    if not visitor.signed_in:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequiredError(target)
    return visitor


def grid_user(visitor: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    """A signed-in grid user (household or organisation); any other role is refused with 403."""
    if visitor.role is not AccountRole.GRID_USER or not visitor.customer_ref:
        raise PortalError(403, "error.403")
    return visitor


def operator(visitor: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    """A signed-in operator of the DSO; any other role is refused with 403."""
    if visitor.role is not AccountRole.OPERATOR:
        raise PortalError(403, "error.403")
    return visitor


GridUser = Annotated[Viewer, Depends(grid_user)]
Operator = Annotated[Viewer, Depends(operator)]
Visitor = Annotated[Viewer, Depends(viewer)]
HubDep = Annotated[Hub, Depends(current_hub)]


# -- CSRF ---------------------------------------------------------------------------------------------------


def session_csrf(session_token: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of the session token under a fixed label."""
    return hmac.new(session_token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def csrf_token(request: Request, visitor: Viewer) -> str:
    """The token a form on this page carries (a new anonymous one is set as a cookie by :func:`render`)."""
    if visitor.session_token is not None:
        return session_csrf(visitor.session_token)
    existing: str | None = getattr(request.state, "anonymous_csrf", None) or request.cookies.get(
        ANONYMOUS_CSRF_COOKIE
    )
    if not existing:
        existing = secrets.token_urlsafe(32)
        request.state.new_anonymous_csrf = existing
    request.state.anonymous_csrf = existing
    return existing


async def checked_form(request: Request, visitor: Annotated[Viewer, Depends(viewer)]) -> FormData:
    """The posted form once its CSRF token is checked; a missing or wrong token is refused (403)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if visitor.session_token is not None:
        expected: str | None = session_csrf(visitor.session_token)
    else:
        expected = request.cookies.get(ANONYMOUS_CSRF_COOKIE)
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise PortalError(403, "csrf.failed")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def form_text(form: FormData, name: str) -> str:
    """A text field of ``form`` ('' when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def safe_next(path: str | None, default: str = "/") -> str:
    """``path`` when it is a path on this site (``/…`` but not ``//…`` or ``/\\…``), else ``default``."""
    if path and path.startswith("/") and not path.startswith(("//", "/\\")) and "\n" not in path:
        return path
    return default


def signin_redirect(next_path: str) -> RedirectResponse:
    """To the sign-in page, coming back to ``next_path`` afterwards."""
    return RedirectResponse(f"/signin?next={quote(next_path, safe='/')}", status_code=303)


# -- rendering ----------------------------------------------------------------------------------------------


def kwh_text(value_wh: int | None) -> str:
    """Integer Wh as kWh with 3 decimals (exact: integer arithmetic), '–' for None."""
    if value_wh is None:
        return "–"
    sign = "-" if value_wh < 0 else ""
    whole, fraction = divmod(abs(value_wh), 1000)
    return f"{sign}{whole}.{fraction:03d}"


def local_text(instant: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """An instant in Europe/Brussels local time, '–' for None."""
    return "–" if instant is None else instant.astimezone(BRUSSELS).strftime(pattern)


@cache
def environment() -> Environment:
    """The portal's Jinja2 templates (HTML autoescaped), built on first use."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["kwh"] = kwh_text
    environment.filters["local"] = local_text
    return environment


def secure_cookies(request: Request) -> bool:
    """Whether cookies must be Secure: the page is served over https."""
    return request.url.scheme == "https"


def with_headers(request: Request, response: Response) -> Response:
    """``response`` with the portal's security headers and a pending anonymous CSRF cookie."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    fresh: str | None = getattr(request.state, "new_anonymous_csrf", None)
    if fresh:
        response.set_cookie(
            ANONYMOUS_CSRF_COOKIE, fresh, httponly=True, samesite="lax", secure=secure_cookies(request)
        )
    return response


def render(
    request: Request, visitor: Viewer, template: str, *, status_code: int = 200, **context: Any
) -> Response:
    """The page ``template`` in the visitor's language, with its security headers."""
    language = visitor.language

    def t(key: str, **fields: object) -> str:
        return translate(language, key, **fields)

    page = (
        environment()
        .get_template(template)
        .render(
            t=t,
            known=CATALOGUES[language].__contains__,
            lang=language,
            languages=LANGUAGES,
            viewer=visitor,
            csrf=csrf_token(request, visitor),
            path=request.url.path,
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            oidc=request.app.state.hub.oidc is not None,  # offer sign-in through the identity provider
            **context,
        )
    )
    return with_headers(request, HTMLResponse(page, status_code=status_code))


def redirect(request: Request, target: str) -> Response:
    """A 303 redirect to ``target`` with the security headers (the answer to a form post)."""
    return with_headers(request, RedirectResponse(target, status_code=303))


async def portal_error(request: Request, error: Exception) -> Response:
    """The page of a :class:`PortalError`: a redirect to sign in, or an error page with no data."""
    assert isinstance(error, PortalError)
    if isinstance(error, SignInRequiredError):
        return with_headers(request, signin_redirect(error.next_path))
    visitor = viewer(request)
    return render(request, visitor, "error.html", status_code=error.status_code, message=error.message)
