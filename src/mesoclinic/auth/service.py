"""Logins, sessions, bearer tokens, the TOTP second factor and user administration."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mesoclinic import crypto
from mesoclinic.audit import service as audit
from mesoclinic.audit.service import Actor
from mesoclinic.auth import rules
from mesoclinic.auth.passwords import hash_password, needs_rehash, verify_password
from mesoclinic.auth.rules import Principal
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, TooManyAttempts
from mesoclinic.models import (
    ApiToken,
    BrowserSession,
    Clinic,
    ClinicMembership,
    LoginAttempt,
    Patient,
    Role,
    User,
)
from mesoclinic.settings import Settings

TOTP_PERIOD_SECONDS = 30
TOTP_ISSUER = "MesoClinic"
PENDING_LOGIN_LIFETIME = timedelta(minutes=10)
log = logging.getLogger(__name__)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _throttle(db: Session, settings: Settings, email: str, ip: str) -> None:
    now = utcnow()
    window = timedelta(minutes=settings.login_lockout_minutes)
    since = now - window
    by_email = db.scalars(
        select(LoginAttempt.attempted_at).where(
            LoginAttempt.email == email,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.attempted_at > since,
        )
    ).all()
    by_ip = db.scalars(
        select(LoginAttempt.attempted_at).where(
            LoginAttempt.ip == ip,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.attempted_at > since,
        )
    ).all()
    # One address guessing many accounts is throttled too, a little more leniently.
    until = rules.lockout_until(by_email, now, settings.login_max_failures, window) or (
        rules.lockout_until(by_ip, now, settings.login_max_failures * 4, window)
    )
    if until is not None:
        minutes = max(1, int((until - now).total_seconds() // 60) + 1)
        raise TooManyAttempts(
            f"Too many failed logins. Try again in about {minutes} minute(s).",
            code="login-throttled",
            extra={"retry_after_seconds": int((until - now).total_seconds()) + 1},
        )


def _record_failed_login(db: Session, actor: Actor, action: str, reason: str) -> None:
    """Undo the request's work, then commit the failed attempt, so the throttle counts it even
    though the request fails: the one deliberate commit inside a service. (A side transaction
    would deadlock on SQLite, where the request's own transaction holds the write lock.)
    ``actor.label`` is the email the attempt was made for."""
    db.rollback()
    db.add(LoginAttempt(email=actor.label, ip=actor.ip, succeeded=False))
    audit.record(db, actor, action, outcome="denied", details={"reason": reason})
    db.commit()


def authenticate(db: Session, settings: Settings, email: str, password: str, actor: Actor) -> User:
    """Check a password (throttled); every failure is recorded and audited."""
    email = normalise_email(email)
    _throttle(db, settings, email, actor.ip)
    user = db.scalar(select(User).where(User.email == email))
    password_ok = verify_password(user.password_hash if user else None, password)
    user_actor = Actor(user.id if user else None, email, actor.ip, actor.user_agent)
    if user is None or not password_ok:
        _record_failed_login(db, user_actor, "auth.login", "bad-credentials")
        raise NotAuthenticated("Email or password is incorrect.", code="invalid-credentials")
    if not user.is_active:
        _record_failed_login(db, user_actor, "auth.login", "disabled")
        raise NotAuthenticated("This account is disabled.", code="account-disabled")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.add(LoginAttempt(email=email, ip=actor.ip, succeeded=True))
    return user


def authenticate_for_token(
    db: Session, settings: Settings, email: str, password: str, totp_code: str | None, actor: Actor
) -> User:
    """Password and, when enrolled, the TOTP code in one step (API clients have no second page)."""
    user = authenticate(db, settings, email, password, actor)
    if user.totp_enabled:
        require_totp(
            db,
            settings,
            user,
            totp_code or "",
            actor,
            field="totp_code",
            detail="A valid TOTP code is required for this account.",
        )
    return user


def principal_for(
    db: Session,
    user: User,
    *,
    via: str,
    actor: Actor,
    csrf_token: str = "",
    active_clinic_id: int | None = None,
) -> Principal:
    role = Role(user.role)
    clinic_ids = frozenset(
        db.scalars(select(ClinicMembership.clinic_id).where(ClinicMembership.user_id == user.id))
    )
    patient_id = None
    if role is Role.PATIENT:
        patient_id = db.scalar(select(Patient.id).where(Patient.user_id == user.id))
    if active_clinic_id not in clinic_ids:
        active_clinic_id = min(clinic_ids) if clinic_ids else None
    return Principal(
        user_id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=role,
        clinic_ids=clinic_ids,
        patient_id=patient_id,
        via=via,
        ip=actor.ip,
        user_agent=actor.user_agent,
        active_clinic_id=active_clinic_id,
        csrf_token=csrf_token,
    )


# --- browser sessions -------------------------------------------------------------------------


def start_browser_session(db: Session, settings: Settings, user: User, actor: Actor) -> str:
    """Create a session; it grants nothing until the second factor is given, when one is enrolled."""
    token = crypto.new_token()
    pending = user.totp_enabled
    db.add(
        BrowserSession(
            token_hash=crypto.hash_token(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            second_factor_pending=pending,
            # A half-finished login is only good for the few minutes it takes to type a code.
            expires_at=utcnow()
            + (PENDING_LOGIN_LIFETIME if pending else timedelta(hours=settings.session_hours)),
            ip=actor.ip,
        )
    )
    if not pending:
        _complete_login(db, user, actor)
    return token


def _complete_login(db: Session, user: User, actor: Actor) -> None:
    user.last_login_at = utcnow()
    audit.record(db, Actor(user.id, user.email, actor.ip, actor.user_agent), "auth.login")


def find_browser_session(db: Session, token: str) -> tuple[BrowserSession, User] | None:
    row = db.execute(
        select(BrowserSession, User)
        .join(User, User.id == BrowserSession.user_id)
        .where(BrowserSession.token_hash == crypto.hash_token(token))
    ).first()
    if row is None:
        return None
    browser_session, user = row
    if browser_session.expires_at <= utcnow() or not user.is_active:
        return None
    return browser_session, user


def end_browser_session(db: Session, token: str) -> None:
    found = find_browser_session(db, token)
    if found is not None:
        db.delete(found[0])


def complete_second_factor(
    db: Session,
    settings: Settings,
    token: str,
    code: str,
    actor: Actor,
) -> User:
    found = find_browser_session(db, token)
    if found is None or not found[0].second_factor_pending:
        raise NotAuthenticated("Your login has expired; please sign in again.", code="login-expired")
    browser_session, user = found
    _throttle(db, settings, user.email, actor.ip)
    require_totp(db, settings, user, code, actor, field="code")
    browser_session.second_factor_pending = False
    browser_session.expires_at = utcnow() + timedelta(hours=settings.session_hours)
    _complete_login(db, user, actor)
    return user


# --- API bearer tokens ----------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: str
    record: ApiToken


def issue_api_token(db: Session, settings: Settings, user: User, name: str, actor: Actor) -> IssuedToken:
    token = "mc_" + crypto.new_token()
    record = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=crypto.hash_token(token),
        expires_at=utcnow() + timedelta(days=settings.api_token_days),
    )
    db.add(record)
    db.flush()
    audit.record(db, actor, "auth.token.issued", target_type="api_token", target_id=record.id)
    return IssuedToken(token, record)


def find_api_token(db: Session, token: str) -> tuple[ApiToken, User] | None:
    row = db.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == crypto.hash_token(token))
    ).first()
    if row is None:
        return None
    record, user = row
    if record.revoked_at is not None or record.expires_at <= utcnow() or not user.is_active:
        return None
    return record, user


def revoke_api_token(db: Session, principal: Principal, token_id: int) -> None:
    result = db.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            ApiToken.user_id == principal.user_id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise Conflict("No active token with that id.", code="token-not-active")
    audit.record(db, principal.actor, "auth.token.revoked", target_type="api_token", target_id=token_id)


# --- TOTP -----------------------------------------------------------------------------------------


def _totp_key(settings: Settings) -> bytes:
    return crypto.derive_key(settings.secret, "totp-secret")


def _totp_secret(user: User, settings: Settings) -> str | None:
    if user.totp_secret_encrypted is None:
        return None
    try:
        return crypto.decrypt(_totp_key(settings), user.totp_secret_encrypted, str(user.id).encode()).decode()
    except InvalidTag:
        # The secret key changed since enrolment: no code can match; an admin must reset the factor.
        log.warning("TOTP secret of user %s cannot be decrypted with the current key", user.id)
        return None


def begin_totp_enrolment(db: Session, settings: Settings, user: User) -> str:
    """Store a new secret (not yet active) and return its otpauth:// URI for the authenticator app."""
    if user.totp_enabled:
        raise Conflict("Two-step login is already on.", code="totp-already-enabled")
    secret = pyotp.random_base32()
    user.totp_secret_encrypted = crypto.encrypt(_totp_key(settings), secret.encode(), str(user.id).encode())
    return str(pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER))


def confirm_totp_enrolment(db: Session, settings: Settings, user: User, code: str, actor: Actor) -> None:
    if user.totp_enabled or user.totp_secret_encrypted is None:
        raise Conflict("Start enrolment first.", code="totp-not-enrolling")
    if not verify_totp(user, settings, code):
        raise InvalidInput("That code is not valid.", code="invalid-totp-code", field="code")
    user.totp_enabled = True
    audit.record(db, actor, "auth.totp.enabled", target_type="user", target_id=user.id)


def require_totp(
    db: Session,
    settings: Settings,
    user: User,
    code: str,
    actor: Actor,
    *,
    field: str,
    detail: str = "That code is not valid.",
) -> None:
    """Check the second factor; a wrong code counts as a failed login, so guessing is throttled.

    The user row is locked first, so two simultaneous requests cannot both spend one code."""
    db.refresh(user, with_for_update=True)
    if verify_totp(user, settings, code):
        return
    user_actor = Actor(user.id, user.email, actor.ip, actor.user_agent)
    _record_failed_login(db, user_actor, "auth.second_factor", "bad-totp-code")
    raise NotAuthenticated(detail, code="invalid-totp-code", field=field)


def verify_totp(user: User, settings: Settings, code: str, now: float | None = None) -> bool:
    """Accept the current code or its neighbours (clock drift), each time step only once."""
    secret = _totp_secret(user, settings)
    code = code.strip().replace(" ", "")
    # isdigit() alone accepts other scripts' digits, which compare_digest refuses with a TypeError.
    if secret is None or not (code.isascii() and code.isdigit()):
        return False
    totp = pyotp.TOTP(secret)
    current_step = int((time.time() if now is None else now) // TOTP_PERIOD_SECONDS)
    for step in (current_step - 1, current_step, current_step + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD_SECONDS), code):
            user.totp_last_step = step
            return True
    return False


# --- user administration ---------------------------------------------------------------------------


def create_user(
    db: Session,
    actor: Actor,
    *,
    email: str,
    full_name: str,
    role: Role,
    password: str,
    clinic_ids: list[int],
) -> User:
    email = normalise_email(email)
    if problems := rules.password_problems(password, email):
        raise InvalidInput("Password " + "; ".join(problems) + ".", code="weak-password", field="password")
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("A user with that email already exists.", code="email-taken", field="email")
    if role in rules.STAFF_ROLES and not clinic_ids:
        raise InvalidInput(
            "Staff must belong to at least one clinic.", code="clinic-required", field="clinic_ids"
        )
    known = set(db.scalars(select(Clinic.id).where(Clinic.id.in_(clinic_ids))))
    if unknown := sorted(set(clinic_ids) - known):
        raise InvalidInput(f"Unknown clinic id(s): {unknown}.", code="unknown-clinic", field="clinic_ids")
    user = User(email=email, full_name=full_name, role=role.value, password_hash=hash_password(password))
    db.add(user)
    db.flush()
    for clinic_id in sorted(known):
        db.add(ClinicMembership(user_id=user.id, clinic_id=clinic_id))
    audit.record(
        db,
        actor,
        "user.created",
        target_type="user",
        target_id=user.id,
        details={"role": role.value},
    )
    return user


def require_staff_admin_of(principal: Principal, clinic_ids: list[int]) -> None:
    """Admins manage users only within their own clinics."""
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only an administrator may manage users.", code="admin-only")
    if outside := sorted(set(clinic_ids) - principal.clinic_ids):
        raise Forbidden(f"You do not administer clinic(s) {outside}.", code="clinic-not-yours")
