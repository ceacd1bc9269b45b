"""Signed-in browser sessions for page tests (without the deliberately slow password check), and
the aftercare arrangements (a treated patient) shared with tests/aftercare."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.audit.service import Actor
from mesoclinic.auth import service
from mesoclinic.auth.deps import SESSION_COOKIE
from mesoclinic.models import User
from mesoclinic.settings import Settings
from tests.aftercare.conftest import Treated, clinician, patient, treated
from tests.support import csrf_from
from tests.treatment.helpers import API, ok

__all__ = ["Treated", "clinician", "patient", "treated"]

HTML = {"accept": "text/html"}
COOKIE_DOMAIN = "testserver.local"


def sign_in(client: TestClient, db: Session, settings: Settings, email: str) -> str:
    """A browser session for ``email`` on ``client``; returns its CSRF token."""
    db.rollback()
    user = db.scalars(select(User).where(User.email == email)).one()
    token = service.start_browser_session(db, settings, user, Actor(user.id, user.email))
    db.commit()
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token, domain=COOKIE_DOMAIN)
    page = client.get("/account/security", headers=HTML)
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


def post_form(client: TestClient, path: str, csrf: str, **fields: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf, **fields}, headers=HTML, follow_redirects=False)


def red_flag(client: TestClient, patient: dict[str, str], treated: Treated) -> dict[str, Any]:
    """Ada answers her day-1 check-in with a fever: an urgent escalation."""
    body = {"red_flags": ["fever"], "note": "hot and shivery"}
    result = ok(client.post(f"{API}/checkins/{treated.checkins['day1']['id']}", json=body, headers=patient))
    escalation: dict[str, Any] = result["escalation"]
    return escalation


def text(html: str) -> str:
    """The page's text with tags and runs of whitespace collapsed, for content assertions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
