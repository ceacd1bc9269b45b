"""Bearer tokens, the second factor, ``/api/v1/me`` and user administration over the API."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from mesoclinic.audit.service import SYSTEM_ACTOR, Actor
from mesoclinic.auth import service
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict
from mesoclinic.models import ApiToken, AuditEvent, Clinic, ClinicMembership, LoginAttempt, User
from mesoclinic.settings import Settings
from tests.conftest import count
from tests.support import PASSWORD, TEST_SECRET_KEY, World, bearer

PROBLEM_JSON = "application/problem+json"
TOKENS = "/api/v1/auth/tokens"
TESTCLIENT_IP = "testclient"  # what Starlette's TestClient reports as the peer address


# --- helpers -----------------------------------------------------------------------------------------


def rows(db: Session, statement: Select[Any]) -> list[Any]:
    """Plain result rows from the latest committed state."""
    db.rollback()
    return list(db.execute(statement).all())


def audit_trail(db: Session, action: str) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in rows(
            db,
            select(AuditEvent.actor, AuditEvent.outcome, AuditEvent.details)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id),
        )
    ]


def login(client: TestClient, email: str, password: str = PASSWORD, **extra: Any) -> Response:
    return client.post(TOKENS, json={"email": email, "password": password, **extra})


def assert_problem(response: Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field
    return body


def user_id(db: Session, email: str) -> int:
    return int(rows(db, select(User.id).where(User.email == email))[0][0])


def enrol_totp(db: Session, settings: Settings, email: str) -> tuple[pyotp.TOTP, str]:
    """Turn on the second factor the way the security page does; returns the app and the code used."""
    db.rollback()
    user = db.scalars(select(User).where(User.email == email)).one()
    totp = pyotp.parse_uri(service.begin_totp_enrolment(db, settings, user))
    code = totp.now()
    service.confirm_totp_enrolment(db, settings, user, code, SYSTEM_ACTOR)
    db.commit()
    return totp, code


def token_for(db: Session, settings: Settings, email: str) -> tuple[int, dict[str, str]]:
    """A token issued as the endpoint issues it, without its deliberately slow password check.

    For tests whose subject is what a token may do, not how it is obtained."""
    db.rollback()
    user = db.scalars(select(User).where(User.email == email)).one()
    issued = service.issue_api_token(db, settings, user, "test", Actor(user.id, user.email))
    db.commit()
    return issued.record.id, {"Authorization": f"Bearer {issued.token}"}


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step: still inside the accepted drift, never used at enrolment."""
    return str(totp.at(time.time() + service.TOTP_PERIOD_SECONDS))


def wrong_code(totp: pyotp.TOTP) -> str:
    near = {totp.at(time.time() + k * service.TOTP_PERIOD_SECONDS) for k in range(-3, 4)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


def fail_logins(db: Session, emails: list[str], ip: str, ago: timedelta) -> None:
    """Arrange earlier failed attempts, one per email given, as a login would have recorded them."""
    db.rollback()
    db.add_all(
        LoginAttempt(email=email, ip=ip, succeeded=False, attempted_at=utcnow() - ago) for email in emails
    )
    db.commit()


# --- issuing and using tokens ------------------------------------------------------------------------


def test_it_issues_a_token_that_identifies_its_user(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    response = login(client, world.clinician, name="lab integration")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"].startswith("mc_")
    expires_at = datetime.fromisoformat(body["expires_at"])
    expected = utcnow() + timedelta(days=settings.api_token_days)
    assert abs(expires_at - expected) < timedelta(minutes=1)

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == world.clinician

    # Only the token's hash is stored; its use is remembered.
    [(name, token_hash, last_used)] = rows(
        db, select(ApiToken.name, ApiToken.token_hash, ApiToken.last_used_at).where(ApiToken.id == body["id"])
    )
    assert name == "lab integration"
    assert token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
    assert last_used is not None
    assert audit_trail(db, "auth.token.issued") == [(world.clinician, "success", {})]


def test_it_accepts_the_email_in_any_case_and_with_spaces(client: TestClient, world: World) -> None:
    response = login(client, "  CLINICIAN@A.example ")
    assert response.status_code == 201, response.text


def test_it_refuses_a_wrong_password_or_unknown_email_alike_and_audits_both(
    client: TestClient, world: World, db: Session
) -> None:
    wrong_password = login(client, world.clinician, "not the password at all")
    unknown = login(client, "nobody@a.example")
    for response in (wrong_password, unknown):
        body = assert_problem(response, 401, "invalid-credentials")
        assert "token" not in body
    # The same words for both, so the answer does not reveal which emails have accounts.
    assert wrong_password.json()["detail"] == unknown.json()["detail"]
    assert count(db, "api_token") == 0
    assert audit_trail(db, "auth.login") == [
        (world.clinician, "denied", {"reason": "bad-credentials"}),
        ("nobody@a.example", "denied", {"reason": "bad-credentials"}),
    ]
    attempts = rows(db, select(LoginAttempt.email, LoginAttempt.succeeded).order_by(LoginAttempt.id))
    assert [tuple(a) for a in attempts] == [(world.clinician, False), ("nobody@a.example", False)]


def test_a_disabled_account_can_neither_sign_in_nor_use_its_tokens(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    token_id, headers = token_for(db, settings, world.clinician)
    db.execute(update(User).where(User.email == world.clinician).values(is_active=False))
    db.commit()
    assert_problem(login(client, world.clinician), 401, "account-disabled")
    # Only the right password learns that the account is disabled.
    assert_problem(login(client, world.clinician, "not the password at all"), 401, "invalid-credentials")
    assert_problem(client.get("/api/v1/me", headers=headers), 401, "invalid-token")
    assert [token_id] == [i for (i,) in rows(db, select(ApiToken.id))]
    assert [reason["reason"] for _, _, reason in audit_trail(db, "auth.login")] == [
        "disabled",
        "bad-credentials",
    ]


def test_it_refuses_an_expired_token_and_audits_the_attempt(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    token_id, headers = token_for(db, settings, world.clinician)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.execute(
        update(ApiToken).where(ApiToken.id == token_id).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()
    assert_problem(client.get("/api/v1/me", headers=headers), 401, "invalid-token")
    [(actor, outcome, details)] = audit_trail(db, "auth.token")
    assert (actor, outcome, details["code"]) == ("anonymous", "denied", "invalid-token")


def test_it_refuses_tokens_it_never_issued(client: TestClient, world: World) -> None:
    for authorization in ["Bearer mc_made-up", "Bearer ", "bearer  mc_made-up  "]:
        response = client.get("/api/v1/me", headers={"Authorization": authorization})
        assert_problem(response, 401, "invalid-token")


def test_it_refuses_a_caller_without_credentials(client: TestClient, world: World) -> None:
    assert_problem(client.get("/api/v1/me"), 401, "not-authenticated")


def test_a_revoked_token_stops_working_at_once(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    token_id, headers = token_for(db, settings, world.clinician)
    _, other = token_for(db, settings, world.clinician)
    assert client.delete(f"{TOKENS}/{token_id}", headers=headers).status_code == 204
    assert_problem(client.get("/api/v1/me", headers=headers), 401, "invalid-token")
    # Only that token: the user's others keep working.
    assert client.get("/api/v1/me", headers=other).status_code == 200
    [(revoked_at,)] = rows(db, select(ApiToken.revoked_at).where(ApiToken.id == token_id))
    assert revoked_at is not None
    assert [(actor, outcome) for actor, outcome, _ in audit_trail(db, "auth.token.revoked")] == [
        (world.clinician, "success")
    ]
    # Revoking it again is a conflict, not a silent success.
    assert_problem(client.delete(f"{TOKENS}/{token_id}", headers=other), 409, "token-not-active")


def test_it_refuses_to_revoke_someone_elses_token_and_changes_nothing(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    victim_id, victim = token_for(db, settings, world.clinician)
    _, attacker = token_for(db, settings, world.colleague)
    assert_problem(client.delete(f"{TOKENS}/{victim_id}", headers=attacker), 409, "token-not-active")
    # The same answer as for a token that does not exist, so ids of others' tokens do not leak.
    assert_problem(client.delete(f"{TOKENS}/999999", headers=attacker), 409, "token-not-active")
    [(revoked_at,)] = rows(db, select(ApiToken.revoked_at).where(ApiToken.id == victim_id))
    assert revoked_at is None
    assert client.get("/api/v1/me", headers=victim).status_code == 200
    assert audit_trail(db, "auth.token.revoked") == []


def test_it_refuses_a_malformed_token_request_as_invalid_input(client: TestClient, world: World) -> None:
    response = client.post(TOKENS, json={"email": world.clinician})
    assert_problem(response, 422, "invalid-input", field="password")
    response = client.post(TOKENS, json={"email": world.clinician, "password": PASSWORD, "admin": True})
    assert_problem(response, 422, "invalid-input", field="admin")


# --- throttling --------------------------------------------------------------------------------------


def test_it_throttles_an_account_after_too_many_failures_even_with_the_right_password(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        assert_problem(login(client, world.clinician, "guess-guess-guess"), 401, "invalid-credentials")
    response = login(client, world.clinician)
    assert_problem(response, 429, "login-throttled")
    window = settings.login_lockout_minutes * 60
    assert 0 < int(response.headers["retry-after"]) <= window + 1
    assert response.json()["retry_after_seconds"] == int(response.headers["retry-after"])
    assert count(db, "api_token") == 0
    # Other accounts from the same address are not locked out by one account's failures.
    assert login(client, world.colleague).status_code == 201


def test_it_says_how_long_until_the_oldest_counted_failure_ages_out(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    fail_logins(
        db, [world.clinician] * settings.login_max_failures, "198.51.100.7", ago=timedelta(minutes=10)
    )
    response = login(client, world.clinician)
    assert_problem(response, 429, "login-throttled")
    remaining = settings.login_lockout_minutes * 60 - 10 * 60
    assert remaining - 5 <= int(response.headers["retry-after"]) <= remaining + 1


def test_it_lets_the_account_in_again_once_failures_age_out(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    ago = timedelta(minutes=settings.login_lockout_minutes, seconds=1)
    fail_logins(db, [world.clinician] * settings.login_max_failures, TESTCLIENT_IP, ago=ago)
    assert login(client, world.clinician).status_code == 201


def test_it_throttles_one_address_guessing_many_accounts(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    # Spread over many made-up accounts so no single account reaches its own limit.
    guesses = [f"guess{n}@a.example" for n in range(settings.login_max_failures * 4)]
    fail_logins(db, guesses, TESTCLIENT_IP, ago=timedelta(minutes=1))
    assert_problem(login(client, world.clinician), 429, "login-throttled")


def test_it_lets_a_caller_in_one_failure_below_both_limits(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    account = [world.clinician] * (settings.login_max_failures - 1)
    others = [f"guess{n}@a.example" for n in range(settings.login_max_failures * 4 - 1 - len(account))]
    fail_logins(db, account + others, TESTCLIENT_IP, ago=timedelta(minutes=1))
    assert login(client, world.clinician).status_code == 201


# --- the second factor ---------------------------------------------------------------------------


def test_an_enrolled_account_needs_its_totp_code_for_a_token(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    totp, _ = enrol_totp(db, settings, world.clinician)
    assert_problem(login(client, world.clinician), 401, "invalid-totp-code", field="totp_code")
    assert count(db, "api_token") == 0
    code = next_code(totp)
    assert login(client, world.clinician, totp_code=code).status_code == 201
    # The same code cannot be used twice, even within its 30 seconds.
    assert_problem(login(client, world.clinician, totp_code=code), 401, "invalid-totp-code")
    assert count(db, "api_token") == 1


def test_the_code_that_confirmed_enrolment_cannot_be_reused_to_sign_in(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    _, enrolment_code = enrol_totp(db, settings, world.clinician)
    assert_problem(login(client, world.clinician, totp_code=enrolment_code), 401, "invalid-totp-code")


def test_wrong_totp_codes_are_audited_and_count_towards_the_throttle(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    totp, _ = enrol_totp(db, settings, world.clinician)
    for _ in range(settings.login_max_failures):
        assert_problem(login(client, world.clinician, totp_code=wrong_code(totp)), 401, "invalid-totp-code")
    denied = [(actor, outcome) for actor, outcome, _ in audit_trail(db, "auth.second_factor")]
    assert denied == [(world.clinician, "denied")] * settings.login_max_failures
    # Guessing has to stop: now even the right code is refused for a while.
    assert_problem(login(client, world.clinician, totp_code=next_code(totp)), 429, "login-throttled")
    assert count(db, "api_token") == 0


def test_it_refuses_to_start_enrolment_twice(db: Session, settings: Settings, world: World) -> None:
    enrol_totp(db, settings, world.clinician)
    user = db.scalars(select(User).where(User.email == world.clinician)).one()
    with pytest.raises(Conflict) as refused:
        service.begin_totp_enrolment(db, settings, user)
    assert refused.value.code == "totp-already-enabled"


# verify_totp over a user held in memory: the clock is passed in, so every step is exact.

TOTP_SETTINGS = Settings(database_url="sqlite://", secret_key=TEST_SECRET_KEY)
T0 = 1_900_000_020.0  # 20 s into a 30 s step


def enrolled_in_memory() -> tuple[User, pyotp.TOTP]:
    user = User(id=41, email="mem@a.example", totp_enabled=False)
    totp = pyotp.parse_uri(service.begin_totp_enrolment(None, TOTP_SETTINGS, user))  # type: ignore[arg-type]
    return user, totp


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_it_accepts_a_code_from_a_neighbouring_time_step(offset: int) -> None:
    user, totp = enrolled_in_memory()
    code = totp.at(T0 + offset * service.TOTP_PERIOD_SECONDS)
    assert service.verify_totp(user, TOTP_SETTINGS, code, now=T0)


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_it_refuses_a_code_from_further_away(offset: int) -> None:
    user, totp = enrolled_in_memory()
    code = totp.at(T0 + offset * service.TOTP_PERIOD_SECONDS)
    assert not service.verify_totp(user, TOTP_SETTINGS, code, now=T0)


def test_it_accepts_a_code_typed_with_spaces() -> None:
    user, totp = enrolled_in_memory()
    code = totp.at(T0)
    assert service.verify_totp(user, TOTP_SETTINGS, f" {code[:3]} {code[3:]} ", now=T0)


def test_once_a_step_is_used_no_code_of_that_step_or_before_is_accepted() -> None:
    user, totp = enrolled_in_memory()
    step = service.TOTP_PERIOD_SECONDS
    assert service.verify_totp(user, TOTP_SETTINGS, totp.at(T0), now=T0)
    assert not service.verify_totp(user, TOTP_SETTINGS, totp.at(T0), now=T0)
    assert not service.verify_totp(user, TOTP_SETTINGS, totp.at(T0 - step), now=T0)
    assert service.verify_totp(user, TOTP_SETTINGS, totp.at(T0 + step), now=T0)


def test_a_secret_copied_to_another_user_accepts_no_code() -> None:
    # The user id is authenticated data of the encryption: the copied secret does not decrypt, and
    # the login fails cleanly (no 500) even with the code that is right for the original user.
    user, secret = enrolled_in_memory()
    other = User(id=42, email="other@a.example", totp_secret_encrypted=user.totp_secret_encrypted)
    assert not service.verify_totp(other, TOTP_SETTINGS, secret.at(T0), now=T0)


def test_a_user_without_a_secret_has_no_valid_code() -> None:
    assert not service.verify_totp(User(id=43, email="x@a.example"), TOTP_SETTINGS, "123456", now=T0)


@pytest.mark.parametrize("code", ["", "12345a", "١٢٣٤٥٦", "¹²³⁴⁵⁶", "123 45 6 7"])
def test_it_refuses_codes_that_are_not_six_ascii_digits(code: str) -> None:
    # Other scripts' digits pass str.isdigit(); they must be refused, not crash the comparison.
    user, _ = enrolled_in_memory()
    assert not service.verify_totp(user, TOTP_SETTINGS, code, now=T0)


# --- who am I ------------------------------------------------------------------------------------------


def test_me_describes_the_caller_their_role_and_clinics(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    clinician = client.get("/api/v1/me", headers=token_for(db, settings, world.clinician)[1]).json()
    assert clinician == {
        "id": user_id(db, world.clinician),
        "email": world.clinician,
        "full_name": "Clinician",
        "role": "practitioner",
        "clinic_ids": [world.clinic_a],
        "patient_id": None,
    }
    admin = client.get("/api/v1/me", headers=token_for(db, settings, world.admin)[1]).json()
    assert (admin["role"], admin["clinic_ids"]) == ("admin", sorted([world.clinic_a, world.clinic_b]))
    patient = client.get("/api/v1/me", headers=token_for(db, settings, world.patient_user)[1]).json()
    assert (patient["role"], patient["clinic_ids"], patient["patient_id"]) == ("patient", [], world.patient_a)


# --- user administration -----------------------------------------------------------------------------


def new_user(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "nurse@a.example",
        "full_name": "Florence Nightingale",
        "role": "practitioner",
        "password": "lamp-in-the-dark-ward-1854",
        "clinic_ids": [],
    }
    body.update(overrides)
    return body


def test_an_admin_creates_a_user_in_their_own_clinic(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    before = count(db, "app_user")
    response = client.post(
        "/api/v1/users",
        json=new_user(clinic_ids=[world.clinic_a]),
        headers=token_for(db, settings, world.admin)[1],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "id": body["id"],
        "email": "nurse@a.example",
        "full_name": "Florence Nightingale",
        "role": "practitioner",
        "is_active": True,
    }
    assert count(db, "app_user") == before + 1
    memberships = rows(db, select(ClinicMembership.clinic_id).where(ClinicMembership.user_id == body["id"]))
    assert [clinic for (clinic,) in memberships] == [world.clinic_a]
    assert audit_trail(db, "user.created")[-1] == (world.admin, "success", {"role": "practitioner"})
    # The new account works, with the password it was given.
    me = client.get("/api/v1/me", headers=bearer(client, "nurse@a.example", "lamp-in-the-dark-ward-1854"))
    assert me.json()["clinic_ids"] == [world.clinic_a]


def test_it_refuses_an_admin_creating_a_user_in_a_clinic_they_do_not_run(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    db.add(Clinic(name="Clinic C", slug="clinic-c"))
    db.commit()
    [(clinic_c,)] = rows(db, select(Clinic.id).where(Clinic.slug == "clinic-c"))
    headers = token_for(db, settings, world.admin)[1]
    before = (count(db, "app_user"), count(db, "clinic_membership"))
    for clinics in ([clinic_c], [world.clinic_a, clinic_c], [999_999]):
        response = client.post("/api/v1/users", json=new_user(clinic_ids=clinics), headers=headers)
        assert_problem(response, 403, "clinic-not-yours")
    assert (count(db, "app_user"), count(db, "clinic_membership")) == before


def test_it_refuses_user_creation_by_anyone_but_an_admin_and_audits_it(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    before = count(db, "app_user")
    non_admins = [world.clinician, world.receptionist, world.patient_user]
    for email in non_admins:
        response = client.post(
            "/api/v1/users",
            json=new_user(clinic_ids=[world.clinic_a]),
            headers=token_for(db, settings, email)[1],
        )
        assert_problem(response, 403, "permission-denied")
    assert count(db, "app_user") == before
    denied = audit_trail(db, "auth.permission")
    assert [
        (actor, outcome, details["permission"], details["path"]) for actor, outcome, details in denied
    ] == [(email, "denied", "user:manage", "/api/v1/users") for email in non_admins]


def test_it_refuses_invalid_users_naming_the_field_and_storing_nothing(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    headers = token_for(db, settings, world.admin)[1]
    before = (count(db, "app_user"), count(db, "clinic_membership"))

    def create(**overrides: Any) -> Response:
        body = new_user(**{"clinic_ids": [world.clinic_a], **overrides})
        return client.post("/api/v1/users", json=body, headers=headers)

    for password, problem in [
        ("short-one", "at least 12 characters"),
        ("abababababababab", "few different characters"),
        ("my-nurse-password-1", "email name"),
    ]:
        refused = assert_problem(create(password=password), 422, "weak-password", field="password")
        assert problem in refused["detail"]
    for taken in ["clinician@a.example", "Clinician@A.Example"]:
        assert_problem(create(email=taken), 409, "email-taken", field="email")
    assert_problem(create(clinic_ids=[]), 422, "clinic-required", field="clinic_ids")
    for overrides, field in [
        ({"email": "not-an-email"}, "email"),
        ({"role": "superuser"}, "role"),
        ({"full_name": ""}, "full_name"),
        ({"is_active": False}, "is_active"),
    ]:
        assert_problem(create(**overrides), 422, "invalid-input", field=field)
    assert (count(db, "app_user"), count(db, "clinic_membership")) == before
