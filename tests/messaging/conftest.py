"""Shared arrangements for messaging tests: a real local SMTP server, a local SMS webhook, session
factories as the worker uses them, and appointment rows at clinic A."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mesoclinic.db import make_engine, make_session_factory
from mesoclinic.models import Appointment, AppointmentType, Room, User
from mesoclinic.settings import Settings
from tests.support import World


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """aiosmtpd handler: keeps every message that arrives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append(message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    port = free_port()
    server = SmtpServer(port, inbox)
    server.start()
    yield server
    server.stop()


@dataclass
class Webhook:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    answer: int = 202


@pytest.fixture
def sms_webhook() -> Iterator[Webhook]:
    """A local HTTP server standing in for the SMS gateway."""
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            length = int(self.headers.get("Content-Length", "0"))
            hook.received.append(json.loads(self.rfile.read(length)))
            hook.headers.append(dict(self.headers))
            self.send_response(hook.answer)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()


@pytest.fixture
def msettings(settings: Settings, smtp_server: SmtpServer, sms_webhook: Webhook) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "sms_webhook_url": sms_webhook.url,
            "outbox_max_attempts": 3,
            "smtp_timeout_seconds": 5.0,
            "sms_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions as the worker opens them (BEGIN IMMEDIATE on SQLite)."""
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def user_id_of(db: Session, email: str) -> int:
    return int(db.scalars(select(User.id).where(User.email == email)).one())


@dataclass(frozen=True)
class Places:
    room_id: int
    type_id: int
    practitioner_id: int


@pytest.fixture
def places(db: Session, world: World) -> Places:
    room = Room(clinic_id=world.clinic_a, name="Room 1")
    kind = AppointmentType(
        clinic_id=world.clinic_a, code="mesotherapy_session", name="Mesotherapy session", duration_minutes=30
    )
    db.add_all([room, kind])
    db.commit()
    return Places(room.id, kind.id, user_id_of(db, world.clinician))


def book(
    db: Session,
    places: Places,
    patient_id: int,
    starts_at: datetime,
    status: str = "booked",
    minutes: int = 30,
) -> Appointment:
    appointment = Appointment(
        clinic_id=db.get_one(Room, places.room_id).clinic_id,
        patient_id=patient_id,
        practitioner_user_id=places.practitioner_id,
        room_id=places.room_id,
        appointment_type_id=places.type_id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        status=status,
        created_by_user_id=places.practitioner_id,
    )
    db.add(appointment)
    db.commit()
    return appointment
