"""Delivery: email through a real SMTP server, SMS through the clinic's HTTP webhook gateway.

The webhook uses ``urllib.request`` from the standard library, to keep runtime dependencies small.
Every failure becomes a ``DeliveryError`` with a short reason the outbox stores (no message body).
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

from mesoclinic.models import OutboxMessage
from mesoclinic.settings import Settings


class DeliveryError(Exception):
    """A delivery that did not happen; the outbox retries it later."""


def message_id_for(key: str) -> str:
    """A stable Message-ID per idempotency key: a resent email is recognisably the same email."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@mesoclinic>"


def send_email(settings: Settings, message: OutboxMessage) -> None:
    email = EmailMessage()
    email["From"] = settings.smtp_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message_id_for(message.idempotency_key)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to reminders
    email.set_content(message.body)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_username, password)
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"smtp: {type(error).__name__}: {error}"[:500]) from error


def send_sms(settings: Settings, message: OutboxMessage) -> None:
    """POST ``{"to", "body", "idempotency_key"}`` as JSON; any 2xx answer means accepted."""
    url = settings.sms_webhook_url
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError("sms: no http(s) webhook configured (MESOCLINIC_SMS_WEBHOOK_URL)")
    headers = {"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key}
    if settings.sms_webhook_token is not None:
        headers["Authorization"] = f"Bearer {settings.sms_webhook_token.get_secret_value()}"
    body = json.dumps(
        {"to": message.recipient, "body": message.body, "idempotency_key": message.idempotency_key}
    ).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=settings.sms_timeout_seconds) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"sms: webhook answered {error.code}") from error
    except OSError as error:
        raise DeliveryError(f"sms: {type(error).__name__}: {error}"[:500]) from error
    if not 200 <= status < 300:
        raise DeliveryError(f"sms: webhook answered {status}")


def deliver(settings: Settings, message: OutboxMessage) -> None:
    if message.channel == "email":
        send_email(settings, message)
    elif message.channel == "sms":
        send_sms(settings, message)
    else:
        raise DeliveryError(f"unknown channel {message.channel!r}")
