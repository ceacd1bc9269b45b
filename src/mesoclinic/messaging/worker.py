"""The outbox worker: fill the outbox with due reminders, claim due messages, deliver, record.

Several workers (and server processes) may run side by side: claims are exclusive (see
``service.claim_due``) and reminder jobs are idempotent. Each step is its own short transaction;
delivery itself happens outside any transaction, after the claim is committed, so a slow SMTP
server never holds database locks.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from mesoclinic.db import transaction, utcnow
from mesoclinic.messaging import senders, service
from mesoclinic.settings import Settings

log = logging.getLogger("mesoclinic.worker")


def new_worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class WorkerReport:
    jobs: list[service.JobReport] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def run_once(
    factory: sessionmaker[Session],
    settings: Settings,
    now: datetime | None = None,
    *,
    worker_id: str | None = None,
    run_jobs: bool = True,
) -> WorkerReport:
    """One pass at one instant ``now``: queue due reminders, then deliver one batch of due messages."""
    now = now or utcnow()
    worker_id = worker_id or new_worker_id()
    report = WorkerReport()
    if run_jobs:
        with transaction(factory) as db:
            report.jobs = service.run_reminder_jobs(db, now, settings.public_base_url)
    with transaction(factory) as db:
        claimed = service.claim_due(
            db, worker_id, settings.worker_batch_size, now, timedelta(seconds=settings.worker_lease_seconds)
        )
        db.expunge_all()
    for message in claimed:
        try:
            senders.deliver(settings, message)
        except senders.DeliveryError as error:
            with transaction(factory) as db:
                status = service.mark_failed(
                    db, message.id, worker_id, str(error), now, settings.outbox_max_attempts
                )
            log.warning("message %s not delivered (attempt %s): %s", message.id, message.attempts, error)
            (report.failed if status == "failed" else report.retrying).append(message.id)
            continue
        with transaction(factory) as db:
            service.mark_sent(db, message.id, worker_id, now)
        report.sent.append(message.id)
    return report


def run_forever(factory: sessionmaker[Session], settings: Settings, stop: threading.Event) -> None:
    """Poll until ``stop`` is set; a full batch is followed at once by the next one."""
    worker_id = new_worker_id()
    log.info("outbox worker %s started", worker_id)
    while not stop.is_set():
        try:
            report = run_once(factory, settings, worker_id=worker_id)
        except Exception:  # a database restart must not kill the worker; log and poll again
            log.exception("outbox worker pass failed")
            report = WorkerReport()
        busy = len(report.sent) + len(report.retrying) + len(report.failed) >= settings.worker_batch_size
        if not busy:
            stop.wait(settings.worker_poll_seconds)
    log.info("outbox worker %s stopped", worker_id)
