"""The outbox on both databases: idempotent enqueue, exclusive claims, real delivery and retries."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mesoclinic.db import transaction
from mesoclinic.messaging import service, worker
from mesoclinic.messaging.rules import RETRY_CAP
from mesoclinic.models import OutboxMessage
from mesoclinic.settings import Settings
from tests.conftest import count
from tests.messaging.conftest import SmtpServer, Webhook

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def put(factory: sessionmaker[Session], key: str, *, channel: str = "email", due_at: datetime = NOW) -> int:
    with transaction(factory) as db:
        return service.enqueue(
            db,
            key=key,
            kind="test",
            channel=channel,
            recipient="ada@example.org" if channel == "email" else "+44 7700 900123",
            subject=f"Subject {key}",
            body=f"Body {key}",
            due_at=due_at,
        ).id


def test_it_queues_a_key_only_once(factory: sessionmaker[Session], db: Session) -> None:
    first = put(factory, "k1")
    with transaction(factory) as session:
        again = service.enqueue(
            session,
            key="k1",
            kind="other",
            channel="sms",
            recipient="+1",
            subject="changed",
            body="changed",
            due_at=NOW,
        )
        assert again.id == first
        assert again.body == "Body k1"
    assert count(db, "outbox_message") == 1


def test_it_claims_only_due_messages_and_only_once(factory: sessionmaker[Session], db: Session) -> None:
    due = put(factory, "due")
    put(factory, "later", due_at=NOW + timedelta(hours=1))
    with transaction(factory) as session:
        claimed = service.claim_due(session, "w1", 10, NOW)
        assert [m.id for m in claimed] == [due]
        assert (claimed[0].status, claimed[0].claimed_by, claimed[0].attempts) == ("sending", "w1", 1)
    with transaction(factory) as session:
        assert service.claim_due(session, "w2", 10, NOW) == []


def test_a_lapsed_claim_can_be_taken_over(factory: sessionmaker[Session]) -> None:
    put(factory, "k")
    with transaction(factory) as session:
        service.claim_due(session, "dead", 10, NOW, timedelta(minutes=5))
    with transaction(factory) as session:
        assert service.claim_due(session, "w2", 10, NOW + timedelta(minutes=4)) == []
    with transaction(factory) as session:
        taken = service.claim_due(session, "w2", 10, NOW + timedelta(minutes=6))
        assert [(m.claimed_by, m.attempts) for m in taken] == [("w2", 2)]
    with transaction(factory) as session:  # the dead worker's late report changes nothing
        assert service.mark_sent(session, taken[0].id, "dead", NOW) is False


def test_concurrent_claimers_never_share_a_message(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        for n in range(60):
            service.enqueue(
                session,
                key=f"c{n}",
                kind="test",
                channel="email",
                recipient="x@example.org",
                subject="",
                body="b",
                due_at=NOW - timedelta(seconds=n),
            )
    claims: dict[str, list[int]] = {}
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        mine: list[int] = []
        try:
            start.wait()
            while True:
                with transaction(factory) as session:
                    batch = service.claim_due(session, name, 4, NOW)
                if not batch:
                    break
                mine.extend(m.id for m in batch)
        except BaseException as error:  # surfaced below, in the test's thread
            errors.append(error)
        claims[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    everything = [i for ids in claims.values() for i in ids]
    assert len(everything) == 60
    assert len(set(everything)) == 60


def test_it_delivers_email_through_smtp(
    factory: sessionmaker[Session], msettings: Settings, smtp_server: SmtpServer, db: Session
) -> None:
    message_id = put(factory, "mail-1")
    report = worker.run_once(factory, msettings, NOW, run_jobs=False)
    assert report.sent == [message_id]
    [received] = smtp_server.inbox.messages
    assert received["To"] == "ada@example.org"
    assert received["Subject"] == "Subject mail-1"
    assert received["Message-ID"].endswith("@mesoclinic>")
    assert received.get_payload(decode=True).decode().strip() == "Body mail-1"  # type: ignore[union-attr]
    stored = db.get_one(OutboxMessage, message_id)
    assert (stored.status, stored.sent_at, stored.attempts) == ("sent", NOW, 1)


def test_it_posts_sms_to_the_webhook(
    factory: sessionmaker[Session], msettings: Settings, sms_webhook: Webhook, db: Session
) -> None:
    message_id = put(factory, "sms-1", channel="sms")
    assert worker.run_once(factory, msettings, NOW, run_jobs=False).sent == [message_id]
    assert sms_webhook.received == [
        {"to": "+44 7700 900123", "body": "Body sms-1", "idempotency_key": "sms-1"}
    ]
    assert sms_webhook.headers[0]["Idempotency-Key"] == "sms-1"
    assert db.get_one(OutboxMessage, message_id).status == "sent"


def test_it_retries_after_smtp_is_down_then_delivers(
    factory: sessionmaker[Session], msettings: Settings, smtp_server: SmtpServer, db: Session
) -> None:
    message_id = put(factory, "retry-1")
    smtp_server.stop()
    report = worker.run_once(factory, msettings, NOW, run_jobs=False)
    assert report.retrying == [message_id]
    stored = db.get_one(OutboxMessage, message_id)
    assert (stored.status, stored.attempts) == ("pending", 1)
    assert stored.due_at > NOW
    assert stored.last_error.startswith("smtp:")
    # Not due again before its backoff…
    assert worker.run_once(factory, msettings, NOW, run_jobs=False).sent == []
    smtp_server.start()
    later = worker.run_once(factory, msettings, NOW + timedelta(minutes=2), run_jobs=False)
    assert later.sent == [message_id]
    assert len(smtp_server.inbox.messages) == 1
    db.rollback()
    assert db.get_one(OutboxMessage, message_id).attempts == 2


def test_it_gives_up_after_the_last_attempt(
    factory: sessionmaker[Session], msettings: Settings, sms_webhook: Webhook, db: Session
) -> None:
    sms_webhook.answer = 500
    message_id = put(factory, "doomed", channel="sms")
    moment = NOW
    outcomes = []
    for _ in range(msettings.outbox_max_attempts):
        report = worker.run_once(factory, msettings, moment, run_jobs=False)
        outcomes.append((report.retrying, report.failed))
        moment += RETRY_CAP
    assert outcomes[-1] == ([], [message_id])
    stored = db.scalars(select(OutboxMessage).where(OutboxMessage.id == message_id)).one()
    assert (stored.status, stored.attempts) == ("failed", 3)
    assert "500" in stored.last_error
    assert worker.run_once(factory, msettings, moment + timedelta(days=1), run_jobs=False).sent == []
