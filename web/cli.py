"""`burgernet api-token`: issue and revoke the JSON API token of an operator."""

from __future__ import annotations

import click
from sqlalchemy import select

from db.audit import record_audit
from db.models import Operator
from db.runtime import current_db
from web.auth import issue_api_token, revoke_api_token

api_token_group = click.Group("api-token", help="API tokens for the control-room system (JSON API).")


def _operator(s, username: str) -> Operator:
    operator = s.scalar(select(Operator).where(Operator.username == username))
    if operator is None:
        raise click.ClickException(f"no operator named {username!r}")
    return operator


@api_token_group.command("issue")
@click.argument("username")
def issue(username: str) -> None:
    """Give USERNAME a new API token (replacing any old one); printed once, stored hashed."""
    with current_db().transaction() as s:
        operator = _operator(s, username)
        token = issue_api_token(s, operator)
        record_audit(s, "api.token_issued", actor="cli", target_type="operator", target_id=operator.id)
    click.echo(token)


@api_token_group.command("revoke")
@click.argument("username")
def revoke(username: str) -> None:
    """Withdraw USERNAME's API token."""
    with current_db().transaction() as s:
        operator = _operator(s, username)
        revoke_api_token(operator)
        record_audit(s, "api.token_revoked", actor="cli", target_type="operator", target_id=operator.id)
    click.echo(f"API token of {username} revoked")
