"""``mesoclinic worker --once``: one pass against the configured database and SMTP server."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from mesoclinic.cli import app as cli_app
from mesoclinic.db import transaction, utcnow
from mesoclinic.messaging import service
from mesoclinic.models import OutboxMessage
from tests.messaging.conftest import SmtpServer
from tests.support import TEST_SECRET_KEY


def test_worker_once_delivers_due_mail(
    database_url: str, factory: sessionmaker[Session], smtp_server: SmtpServer, db: Session, tmp_path: Path
) -> None:
    with transaction(factory) as session:
        message_id = service.enqueue(
            session,
            key="cli-1",
            kind="test",
            channel="email",
            recipient="ada@example.org",
            subject="Hello",
            body="Body",
            due_at=utcnow(),
        ).id
    env = {
        "MESOCLINIC_DATABASE_URL": database_url,
        "MESOCLINIC_VAR_DIR": str(tmp_path / "var"),
        "MESOCLINIC_SECRET_KEY": TEST_SECRET_KEY,
        "MESOCLINIC_SMTP_PORT": str(smtp_server.port),
    }
    result = CliRunner().invoke(cli_app, ["worker", "--once"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "sent 1," in result.output
    assert [m["Subject"] for m in smtp_server.inbox.messages] == ["Hello"]
    db.rollback()
    assert db.get_one(OutboxMessage, message_id).status == "sent"
