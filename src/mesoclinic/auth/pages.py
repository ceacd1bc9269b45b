"""Sign in (with the second factor when enrolled), sign out, clinic switcher and account security."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from mesoclinic.auth import service
from mesoclinic.auth.deps import (
    SESSION_COOKIE,
    AppSettings,
    CurrentPrincipal,
    DbSession,
    RequestActor,
)
from mesoclinic.errors import Forbidden, MesoClinicError, Refusal
from mesoclinic.models import BrowserSession, User
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

#: Double-submit cookie protecting the login form itself (there is no session yet to hold a token).
LOGIN_CSRF_COOKIE = "mc_login_csrf"


def _safe_next(target: str) -> str:
    """Only same-site relative paths, so the login form cannot bounce users to another site."""
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return "/"
    return target


def _login_form(
    request: Request, *, error: str = "", email: str = "", next_url: str = "/", status: int = 200
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"error": error, "email": email, "next_url": _safe_next(next_url), "login_csrf": token},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
    )
    return response


def _check_login_csrf(request: Request, submitted: str) -> None:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    # Compared as bytes: compare_digest raises TypeError on non-ASCII str, and both are user input.
    if not expected or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise Forbidden(
            "The form expired. Please try again.", code="csrf-failed", refusal=Refusal("auth.login.csrf")
        )


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query name
    return _login_form(request, next_url=next)


@router.post("/login")
def login(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    actor: RequestActor,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    _check_login_csrf(request, csrf_token)
    try:
        user = service.authenticate(db, settings, email, password, actor)
    except MesoClinicError as error:
        return _login_form(request, error=error.detail, email=email, next_url=next, status=error.status)
    token = service.start_browser_session(db, settings, user, actor)
    # Encoded, so a destination with its own query string (a search) arrives whole.
    second_step = "/login/second-factor?" + urlencode({"next": _safe_next(next)})
    destination = second_step if user.totp_enabled else _safe_next(next)
    response = RedirectResponse(destination, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.get("/login/second-factor")
def second_factor_page(request: Request, next: str = "/") -> Response:  # noqa: A002
    if not request.cookies.get(SESSION_COOKIE):
        return RedirectResponse("/login", status_code=303)
    return render(request, "second_factor.html", {"next_url": _safe_next(next), "error": ""})


@router.post("/login/second-factor")
def second_factor(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    actor: RequestActor,
    code: Annotated[str, Form(max_length=10)],
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    # SameSite=Lax keeps cross-site posts from carrying the pending session cookie.
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        service.complete_second_factor(db, settings, token, code, actor)
    except MesoClinicError as error:
        if error.code == "login-expired":
            return RedirectResponse("/login", status_code=303)
        return render(
            request,
            "second_factor.html",
            {"next_url": _safe_next(next), "error": error.detail},
            status_code=error.status,
        )
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    service.end_browser_session(db, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/clinic")
def switch_clinic(
    request: Request, db: DbSession, principal: CurrentPrincipal, clinic_id: Annotated[int, Form()]
) -> Response:
    """The clinic switcher for staff who work at several locations."""
    if clinic_id not in principal.clinic_ids:
        raise Forbidden("You do not work at that clinic.", code="clinic-not-yours")
    found = service.find_browser_session(db, request.cookies.get(SESSION_COOKIE, ""))
    if found is not None:
        found[0].active_clinic_id = clinic_id
    return RedirectResponse("/", status_code=303)


@router.get("/account/security")
def security_page(db: DbSession, request: Request, principal: CurrentPrincipal) -> Response:
    user = db.get_one(User, principal.user_id)
    return render(request, "security.html", {"user": user, "provisioning_uri": "", "error": ""})


@router.post("/account/security/totp")
def start_totp(
    db: DbSession, request: Request, settings: AppSettings, principal: CurrentPrincipal
) -> Response:
    user = db.get_one(User, principal.user_id)
    uri = service.begin_totp_enrolment(db, settings, user)
    return render(request, "security.html", {"user": user, "provisioning_uri": uri, "error": ""})


@router.post("/account/security/totp/confirm")
def confirm_totp(
    db: DbSession,
    request: Request,
    settings: AppSettings,
    principal: CurrentPrincipal,
    code: Annotated[str, Form(max_length=10)],
) -> Response:
    user = db.get_one(User, principal.user_id)
    service.confirm_totp_enrolment(db, settings, user, code, principal.actor)
    # Other sessions of this user were opened without the second factor: end them.
    for other in db.scalars(select(BrowserSession).where(BrowserSession.user_id == user.id)):
        if not hmac.compare_digest(other.csrf_token, principal.csrf_token):
            db.delete(other)
    return RedirectResponse("/account/security", status_code=303)
