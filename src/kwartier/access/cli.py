"""``kwartier access``: the operator's commands for data access (issue 6): accounts, tokens, contracts,
the mandate sweep. The portal and the API do the rest; these are for bootstrapping and scripts."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import sqlalchemy as sa
import typer

from kwartier.access.accounts import AccountError, create_account
from kwartier.access.codes import AccountRole
from kwartier.access.contracts import ContractError, register_contract
from kwartier.access.mandate_service import sweep
from kwartier.access.tokens import TokenError, create_personal_token
from kwartier.cli_options import HomeOption, JsonOption, fail, out, print_json
from kwartier.config import load_settings
from kwartier.hub import Hub, utc_now
from kwartier.registry.data_access import Account
from kwartier.registry.parties import Party

app = typer.Typer(help="Data access: accounts, personal tokens, data-access contracts.", no_args_is_help=True)


def _hub(home: HomeOption) -> Hub:
    from kwartier.server import build_hub  # noqa: PLC0415 - the web stack only when used

    return build_hub(load_settings(home))


@app.command("account")
def account(
    login: Annotated[str, typer.Argument(help="E-mail address.")],
    role: Annotated[AccountRole, typer.Option(help="Role of the account.")] = AccountRole.GRID_USER,
    customer: Annotated[
        str | None, typer.Option(help="Grid user reference (customer or enterprise no.).")
    ] = None,
    language: Annotated[str, typer.Option(help="nl or en.")] = "nl",
    oidc_subject: Annotated[
        str | None, typer.Option(help="Link an OpenID Connect identity 'issuer|sub' instead of a password.")
    ] = None,
    party: Annotated[
        str | None, typer.Option(help="GLN of the party a supplier's or provider's account acts for.")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Create an account: with a password (asked for, argon2-hashed) or linked to an OpenID Connect
    identity (signs in through the provider configured by KWARTIER_OIDC_*)."""
    password = None if oidc_subject else typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    hub = _hub(home)
    try:
        with hub.transaction() as session:
            party_id = None
            if party is not None:
                party_id = session.scalar(sa.select(Party.id).where(Party.code == party))
                if party_id is None:
                    raise AccountError(f"{party}: unknown party")
            created = create_account(
                session,
                hub.sealer,
                login=login,
                password=password,
                role=role,
                now=utc_now(),
                customer_ref=customer,
                language=language,
                oidc_subject=oidc_subject,
                party_id=party_id,
            )
            out.print(f"account {created.id}: {created.login} ({created.role.value})")
    except AccountError as error:
        raise fail(str(error)) from error


@app.command("token")
def token(
    login: Annotated[str, typer.Argument(help="E-mail address of a grid user or operator.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    home: HomeOption = None,
) -> None:
    """Create a personal API token for an account (printed once)."""
    hub = _hub(home)
    try:
        with hub.transaction() as session:
            holder = session.scalar(sa.select(Account).where(Account.login == login.strip().lower()))
            if holder is None:
                raise fail(f"{login}: no such account")
            _, secret = create_personal_token(session, holder, label, utc_now())
    except TokenError as error:
        raise fail(str(error)) from error
    typer.echo(secret)


@app.command("contract")
def contract(
    party: Annotated[str, typer.Argument(help="GLN-13 of the energy service provider.")],
    reference: Annotated[str, typer.Argument(help="Contract reference.")],
    valid_from: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "",
    webhook_url: Annotated[str | None, typer.Option(help="Where events are posted.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a data-access contract; prints the client credentials and webhook secret once."""
    hub = _hub(home)
    start = date.fromisoformat(valid_from) if valid_from else utc_now().date()
    try:
        with hub.transaction() as session:
            credentials = register_contract(
                session,
                hub.sealer,
                party_code=party,
                reference=reference,
                valid_from=start,
                now=utc_now(),
                webhook_url=webhook_url,
            )
    except ContractError as error:
        raise fail(str(error)) from error
    if as_json:
        print_json(vars(credentials))
    else:
        out.print(vars(credentials))


@app.command("sweep")
def sweep_command(home: HomeOption = None) -> None:
    """Expire mandates past their expiry and queue the reminders (the server also does it every minute)."""
    hub = _hub(home)
    with hub.transaction() as session:
        out.print(sweep(session, utc_now()))
