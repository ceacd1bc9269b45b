"""The browser side: the login form, sessions, CSRF, logout, the second step and the clinic switcher."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from mesoclinic.audit.service import SYSTEM_ACTOR, Actor
from mesoclinic.auth import service
from mesoclinic.auth.deps import SESSION_COOKIE
from mesoclinic.auth.pages import LOGIN_CSRF_COOKIE
from mesoclinic.db import utcnow
from mesoclinic.models import AuditEvent, BrowserSession, LoginAttempt, User
from mesoclinic.settings import Settings
from tests.conftest import count
from tests.support import PASSWORD, World, browser_login, csrf_from

HTML = {"accept": "text/html"}
COOKIE_DOMAIN = "testserver.local"  # where the test client's cookie jar files cookies for testserver
NEXT_INPUT = re.compile(r'name="next" value="([^"]*)"')
OTPAUTH = re.compile(r"otpauth://[^<\s]+")


# --- helpers -----------------------------------------------------------------------------------------


def rows(db: Session, statement: Select[Any]) -> list[Any]:
    """Plain result rows from the latest committed state."""
    db.rollback()
    return list(db.execute(statement).all())


def audit_trail(db: Session, action: str) -> list[tuple[Any, ...]]:
    statement = (
        select(AuditEvent.actor, AuditEvent.outcome, AuditEvent.details)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.id)
    )
    return [tuple(row) for row in rows(db, statement)]


def sessions(db: Session) -> list[tuple[Any, ...]]:
    statement = select(
        BrowserSession.user_id, BrowserSession.second_factor_pending, BrowserSession.active_clinic_id
    ).order_by(BrowserSession.id)
    return [tuple(row) for row in rows(db, statement)]


def user_id(db: Session, email: str) -> int:
    return int(rows(db, select(User.id).where(User.email == email))[0][0])


def set_session_cookie(client: TestClient, token: str) -> None:
    client.cookies.set(SESSION_COOKIE, token, domain=COOKIE_DOMAIN)


def signed_in(client: TestClient, db: Session, settings: Settings, email: str) -> str:
    """Give the client a session as a completed login would, without the deliberately slow
    password check (the login itself is tested below); returns the CSRF token from the page."""
    db.rollback()
    user = db.scalars(select(User).where(User.email == email)).one()
    token = service.start_browser_session(db, settings, user, Actor(user.id, user.email))
    db.commit()
    set_session_cookie(client, token)
    page = client.get("/", headers=HTML)
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


def problem_code(response: Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["code"])


def login_with(client: TestClient, email: str, next_url: str = "/", password: str = PASSWORD) -> Response:
    form = client.get("/login", headers=HTML)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(form.text), "next": next_url},
        headers=HTML,
        follow_redirects=False,
    )


def set_cookie_headers(response: Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def enrol_totp(db: Session, settings: Settings, email: str) -> pyotp.TOTP:
    db.rollback()
    user = db.scalars(select(User).where(User.email == email)).one()
    totp = pyotp.parse_uri(service.begin_totp_enrolment(db, settings, user))
    service.confirm_totp_enrolment(db, settings, user, totp.now(), SYSTEM_ACTOR)
    db.commit()
    return totp


def next_code(totp: pyotp.TOTP) -> str:
    """The next time step's code: inside the accepted drift, and not the one used at enrolment."""
    return str(totp.at(time.time() + service.TOTP_PERIOD_SECONDS))


def wrong_code(totp: pyotp.TOTP) -> str:
    near = {totp.at(time.time() + k * service.TOTP_PERIOD_SECONDS) for k in range(-3, 4)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


# --- the login form ------------------------------------------------------------------------------


def test_the_login_form_carries_the_token_its_cookie_holds(client: TestClient, world: World) -> None:
    response = client.get("/login", headers=HTML)
    assert response.status_code == 200
    [cookie] = set_cookie_headers(response, LOGIN_CSRF_COOKIE)
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert csrf_from(response.text) == client.cookies.get(LOGIN_CSRF_COOKIE)


def test_it_refuses_a_login_without_the_forms_token_and_checks_no_password(
    client: TestClient, world: World, db: Session
) -> None:
    client.get("/login", headers=HTML)  # the cookie half of the pair
    credentials = {"email": world.clinician, "password": PASSWORD}
    for token in [None, "forged", "é-not-ascii"]:
        data = credentials if token is None else {**credentials, "csrf_token": token}
        response = client.post("/login", data=data, follow_redirects=False)
        assert response.status_code == 403, response.text
        assert problem_code(response) == "csrf-failed"
    # The form's value without its cookie is refused too (another site cannot read the cookie).
    token = client.cookies.get(LOGIN_CSRF_COOKIE)
    assert token is not None
    client.cookies.clear()
    response = client.post("/login", data={**credentials, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies
    assert count(db, "browser_session") == 0
    assert count(db, "login_attempt") == 0


def test_a_successful_login_redirects_with_an_httponly_session_cookie(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    response = browser_login(client, world.clinician)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    [cookie] = set_cookie_headers(response, SESSION_COOKIE)
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert f"max-age={settings.session_hours * 3600}" in cookie.lower()
    # The login form's token is spent.
    assert LOGIN_CSRF_COOKIE not in client.cookies
    assert sessions(db) == [(user_id(db, world.clinician), False, None)]
    assert audit_trail(db, "auth.login") == [(world.clinician, "success", {})]
    home = client.get("/", headers=HTML)
    assert home.status_code == 200
    assert "Clinician · practitioner" in home.text


def test_a_wrong_password_shows_the_form_again_with_an_error_and_no_session(
    client: TestClient, world: World, db: Session
) -> None:
    response = login_with(client, world.clinician, password="not the password at all")
    assert response.status_code == 401
    assert "Email or password is incorrect." in response.text
    assert f'value="{world.clinician}"' in response.text  # the email is kept for a second try
    assert SESSION_COOKIE not in client.cookies
    assert count(db, "browser_session") == 0
    assert audit_trail(db, "auth.login") == [(world.clinician, "denied", {"reason": "bad-credentials"})]


def test_a_throttled_login_shows_the_form_with_the_wait(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    db.add_all(
        LoginAttempt(email=world.clinician, ip="testclient", succeeded=False, attempted_at=utcnow())
        for _ in range(settings.login_max_failures)
    )
    db.commit()
    response = login_with(client, world.clinician)
    assert response.status_code == 429
    assert "Too many failed logins" in response.text
    assert count(db, "browser_session") == 0


def stays_on_this_site(location: str) -> bool:
    """Where a browser would go: it drops tabs and newlines and reads ``\\`` as ``/`` (WHATWG URL)."""
    as_browser_reads_it = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return urlsplit(urljoin("http://testserver/login", as_browser_reads_it)).netloc == "testserver"


def test_it_follows_next_only_to_paths_on_this_site(client: TestClient, world: World) -> None:
    local = f"/patients/{world.patient_a}?tab=history"
    assert login_with(client, world.clinician, local).headers["location"] == local
    for elsewhere in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example"]:
        location = login_with(client, world.clinician, elsewhere).headers["location"]
        assert stays_on_this_site(location), location
    # The form itself never carries a foreign destination.
    for elsewhere in ["https://evil.example/", "//evil.example", "javascript:alert(1)", "evil.example"]:
        page = client.get("/login", params={"next": elsewhere}, headers=HTML)
        [next_value] = NEXT_INPUT.findall(page.text)
        assert html.unescape(next_value) == "/"


# --- CSRF on a signed-in session -----------------------------------------------------------------


def test_it_refuses_a_signed_in_post_without_the_pages_token_and_changes_nothing(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    csrf = signed_in(client, db, settings, world.admin)
    for extra in [{}, {"csrf_token": "forged"}, {"csrf_token": "é-not-ascii"}, {"csrf_token": csrf[:-1]}]:
        response = client.post("/clinic", data={"clinic_id": world.clinic_b, **extra}, follow_redirects=False)
        assert response.status_code == 403, response.text
        assert problem_code(response) == "csrf-failed"
    response = client.post(
        "/clinic",
        data={"clinic_id": world.clinic_b},
        headers={"X-CSRF-Token": "forged"},
        follow_redirects=False,
    )
    assert (response.status_code, problem_code(response)) == (403, "csrf-failed")
    assert sessions(db) == [(user_id(db, world.admin), False, None)]
    denied = audit_trail(db, "auth.csrf")
    assert [(actor, outcome, details["path"]) for actor, outcome, details in denied] == [
        (world.admin, "denied", "/clinic")
    ] * 5


def test_with_the_pages_token_the_clinic_switch_works(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    csrf = signed_in(client, db, settings, world.admin)
    response = client.post(
        "/clinic",
        data={"clinic_id": world.clinic_b, "csrf_token": csrf},
        headers=HTML,
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert sessions(db) == [(user_id(db, world.admin), False, world.clinic_b)]
    home = client.get("/", headers=HTML).text
    assert "Noether" in home
    assert "Lovelace" not in home
    # The same token may come in a header instead, as scripts send it.
    response = client.post(
        "/clinic",
        data={"clinic_id": world.clinic_a},
        headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert sessions(db) == [(user_id(db, world.admin), False, world.clinic_a)]


def test_it_refuses_a_cross_origin_post_even_with_the_right_token(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    csrf = signed_in(client, db, settings, world.admin)
    for origin in ["https://evil.example", "http://testserver.evil.example", "null"]:
        response = client.post(
            "/clinic",
            data={"clinic_id": world.clinic_b, "csrf_token": csrf},
            headers={"Origin": origin},
            follow_redirects=False,
        )
        assert (response.status_code, problem_code(response)) == (403, "csrf-failed"), origin
    assert sessions(db) == [(user_id(db, world.admin), False, None)]
    assert len(audit_trail(db, "auth.csrf")) == 3


def test_it_refuses_switching_to_a_clinic_you_do_not_work_at(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    csrf = signed_in(client, db, settings, world.clinician)
    response = client.post(
        "/clinic", data={"clinic_id": world.clinic_b, "csrf_token": csrf}, follow_redirects=False
    )
    assert (response.status_code, problem_code(response)) == (403, "clinic-not-yours")
    assert sessions(db) == [(user_id(db, world.clinician), False, None)]
    home = client.get("/", headers=HTML).text
    assert "Lovelace" in home
    assert "Noether" not in home


# --- session lifetime ----------------------------------------------------------------------------


def test_logout_ends_the_session_for_good(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    csrf = signed_in(client, db, settings, world.clinician)
    old_cookie = client.cookies.get(SESSION_COOKIE)
    assert old_cookie is not None
    # Logging out is a change too: another site cannot do it for you.
    refused = client.post("/logout", follow_redirects=False)
    assert (refused.status_code, problem_code(refused)) == (403, "csrf-failed")
    assert count(db, "browser_session") == 1

    response = client.post("/logout", data={"csrf_token": csrf}, headers=HTML, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert set_cookie_headers(response, SESSION_COOKIE)  # told to forget it
    assert count(db, "browser_session") == 0
    # A copy of the old cookie opens nothing.
    set_session_cookie(client, old_cookie)
    assert client.get("/", headers=HTML, follow_redirects=False).headers["location"] == "/login?next=/"
    assert problem_code(client.get("/api/v1/me")) == "not-authenticated"


def test_an_anonymous_browser_is_sent_to_sign_in(client: TestClient, world: World) -> None:
    home = client.get("/", headers=HTML, follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/login?next=/")
    chart = client.get(f"/patients/{world.patient_a}", headers=HTML, follow_redirects=False)
    assert chart.headers["location"] == f"/login?next=/patients/{world.patient_a}"
    # Programs are not redirected to a form they cannot fill in.
    api = client.get("/")
    assert (api.status_code, problem_code(api)) == (401, "not-authenticated")


def test_an_expired_session_or_a_disabled_user_opens_nothing(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    signed_in(client, db, settings, world.clinician)
    db.execute(update(BrowserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303

    signed_in(client, db, settings, world.receptionist)
    db.execute(update(User).where(User.email == world.receptionist).values(is_active=False))
    db.commit()
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303
    assert problem_code(client.get("/api/v1/me")) == "not-authenticated"


# --- the second step -------------------------------------------------------------------------------


def test_a_password_alone_gives_an_enrolled_user_only_a_pending_session(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    enrol_totp(db, settings, world.clinician)
    response = browser_login(client, world.clinician)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login/second-factor")
    assert sessions(db) == [(user_id(db, world.clinician), True, None)]
    assert audit_trail(db, "auth.login") == []  # not signed in yet
    # The pending session grants nothing.
    home = client.get("/", headers=HTML, follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/login?next=/")
    assert problem_code(client.get("/api/v1/me")) == "not-authenticated"
    assert client.get("/login/second-factor", headers=HTML).status_code == 200
    # Without any session there is no second step to take.
    client.cookies.clear()
    page = client.get("/login/second-factor", headers=HTML, follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/login")
    post = client.post("/login/second-factor", data={"code": "123456"}, headers=HTML, follow_redirects=False)
    assert (post.status_code, post.headers["location"]) == (303, "/login")


def test_the_second_step_refuses_a_wrong_code_and_accepts_the_right_one(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    totp = enrol_totp(db, settings, world.clinician)
    destination = "/?q=Ada&date_of_birth=1980-05-17"
    first = login_with(client, world.clinician, destination)
    step = client.get(first.headers["location"], headers=HTML)
    [next_value] = NEXT_INPUT.findall(step.text)
    assert html.unescape(next_value) == destination  # the destination survives the detour

    wrong = client.post(
        "/login/second-factor",
        data={"code": wrong_code(totp), "next": html.unescape(next_value)},
        headers=HTML,
    )
    assert wrong.status_code == 401
    assert "That code is not valid." in wrong.text
    assert sessions(db) == [(user_id(db, world.clinician), True, None)]
    assert [(actor, outcome) for actor, outcome, _ in audit_trail(db, "auth.second_factor")] == [
        (world.clinician, "denied")
    ]
    assert [tuple(r) for r in rows(db, select(LoginAttempt.succeeded).order_by(LoginAttempt.id))] == [
        (True,),  # the password step
        (False,),  # the wrong code counts towards the throttle
    ]

    right = client.post(
        "/login/second-factor",
        data={"code": next_code(totp), "next": html.unescape(next_value)},
        headers=HTML,
        follow_redirects=False,
    )
    assert (right.status_code, right.headers["location"]) == (303, destination)
    assert sessions(db) == [(user_id(db, world.clinician), False, None)]
    assert audit_trail(db, "auth.login") == [(world.clinician, "success", {})]
    assert client.get("/", headers=HTML).status_code == 200


def test_turning_on_two_step_login_ends_the_users_other_sessions(
    client: TestClient, app: FastAPI, world: World, db: Session, settings: Settings
) -> None:
    elsewhere = TestClient(app)  # the same user on another device
    signed_in(elsewhere, db, settings, world.clinician)
    csrf = signed_in(client, db, settings, world.clinician)
    signed_in(TestClient(app), db, settings, world.colleague)  # someone else's session
    assert count(db, "browser_session") == 3

    started = client.post("/account/security/totp", data={"csrf_token": csrf}, headers=HTML)
    assert started.status_code == 200
    [uri] = OTPAUTH.findall(started.text)
    totp = pyotp.parse_uri(html.unescape(uri))

    refused = client.post(
        "/account/security/totp/confirm",
        data={"csrf_token": csrf, "code": wrong_code(totp)},
        headers=HTML,
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert rows(db, select(User.totp_enabled).where(User.email == world.clinician)) == [(False,)]

    confirmed = client.post(
        "/account/security/totp/confirm",
        data={"csrf_token": csrf, "code": totp.now()},
        headers=HTML,
        follow_redirects=False,
    )
    assert (confirmed.status_code, confirmed.headers["location"]) == (303, "/account/security")
    assert rows(db, select(User.totp_enabled).where(User.email == world.clinician)) == [(True,)]
    assert sorted(uid for uid, _, _ in sessions(db)) == sorted(
        [user_id(db, world.clinician), user_id(db, world.colleague)]
    )
    assert "Two-step login is on" in client.get("/account/security", headers=HTML).text
    assert elsewhere.get("/", headers=HTML, follow_redirects=False).status_code == 303
    assert [outcome for _, outcome, _ in audit_trail(db, "auth.totp.enabled")] == ["success"]
