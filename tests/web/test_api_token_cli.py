from sqlalchemy import select

from app import cli
from db.models import AuditEvent, Operator
from tests.support.cli import cli_runner


def test_issue_and_revoke_api_token(app, staff, db):
    runner = cli_runner(app)
    issued = runner.invoke(cli, ["api-token", "issue", "centralist"])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip()
    assert token.startswith("bn_")
    client = app.test_client()
    assert client.get("/api/v1/actions", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    revoked = runner.invoke(cli, ["api-token", "revoke", "centralist"])
    assert revoked.exit_code == 0
    assert client.get("/api/v1/actions", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert runner.invoke(cli, ["api-token", "issue", "nobody"]).exit_code != 0
    with db.session() as s:
        assert s.get(Operator, staff.centralist_id).api_token_hash is None
        assert {"api.token_issued", "api.token_revoked"} <= set(s.scalars(select(AuditEvent.event)))
