"""Plain-text message templates.

Messages travel over channels we do not control (mailboxes, SMS gateways, lock screens), so none
carries clinical detail: no treatment, product, symptom or diagnosis; only that something is due
and where to look. SMS bodies are shorter still.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from mesoclinic.messaging.rules import Channel


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def _portal_line(portal_url: str) -> str:
    return f"Open the patient portal: {portal_url}" if portal_url else "Open the patient portal."


def appointment_reminder(channel: Channel, clinic: str, local_start: datetime, portal_url: str) -> Rendered:
    when = f"{local_start:%A %d %B} at {local_start:%H:%M}"
    if channel is Channel.SMS:
        return Rendered(
            "", f"{clinic}: reminder of your appointment on {when}. To change it, call the clinic."
        )
    return Rendered(
        f"Reminder: your appointment at {clinic} tomorrow",
        f"Hello,\n\nThis is a reminder of your appointment at {clinic} on {when}.\n\n"
        f"If you cannot come, please tell the clinic as soon as possible.\n{_portal_line(portal_url)}\n",
    )


def aftercare_checkin(channel: Channel, clinic: str, portal_url: str) -> Rendered:
    if channel is Channel.SMS:
        return Rendered("", f"{clinic}: you have a check-in due. Please open the patient portal.")
    return Rendered(
        f"{clinic}: your check-in is due",
        f"Hello,\n\nYou have a check-in due today. It takes a few minutes.\n{_portal_line(portal_url)}\n\n"
        "If something worries you, do not wait for the check-in: call the clinic.\n",
    )


def maintenance_due(channel: Channel, clinic: str, portal_url: str) -> Rendered:
    if channel is Channel.SMS:
        return Rendered("", f"{clinic}: it is time to book your follow-up visit. Please contact the clinic.")
    return Rendered(
        f"{clinic}: time to book your follow-up visit",
        f"Hello,\n\nIt is time to book your follow-up visit at {clinic}.\n"
        f"Please contact the clinic to arrange it.\n{_portal_line(portal_url)}\n",
    )


def credential_expiry(full_name: str, title: str, expires_on: date, days_left: int) -> Rendered:
    """To staff (email only): names the credential, which is not patient data."""
    return Rendered(
        f"Your credential expires in {days_left} days",
        f'Hello {full_name},\n\nYour credential "{title}" expires on {expires_on:%d %B %Y} '
        f"({days_left} days from today).\nPlease renew it and record the renewal in MesoClinic, "
        "or you will not be bookable for treatments once it lapses.\n",
    )
