"""FastAPI dependencies: the request's database session and its authenticated principal.

The request owns the transaction: ``get_db`` commits after the endpoint returns and *before* the
response is sent (``scope="function"``), so an acknowledged write is a committed write.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from mesoclinic.audit import service as audit
from mesoclinic.audit.service import Actor
from mesoclinic.auth import service
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.db import utcnow
from mesoclinic.errors import Forbidden, MesoClinicError, NotAuthenticated, Refusal
from mesoclinic.settings import Settings

SESSION_COOKIE = "mc_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_db(request: Request) -> Iterator[Session]:
    """The request's transaction. A refusal rolls back everything the request did, then records
    the refused attempt in the audit trail (who tried what) before the error reaches the caller."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as db:
        try:
            yield db
            db.commit()
        except MesoClinicError as error:
            actor = getattr(request.state, "actor", None) or request_actor(
                request, request.app.state.settings
            )
            if undo_refused(db, actor, error):
                db.commit()
            raise
        except BaseException:
            db.rollback()
            raise


def undo_refused(db: Session, actor: Actor, error: MesoClinicError) -> bool:
    """Roll back everything the refused attempt (and its request) did, then record the refusal
    as a denied audit row when the error names what was attempted. Returns whether a row was
    written (the caller commits it: the request edge, or a page that re-renders its form)."""
    db.rollback()
    if error.refusal is None:
        return False
    audit.record_refusal(db, actor, error.refusal, status=error.status, code=error.code)
    return True


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbSession = Annotated[Session, Depends(get_db, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]


def client_ip(request: Request, settings: Settings) -> str:
    if settings.trust_proxy_headers and (forwarded := request.headers.get("x-forwarded-for")):
        return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else ""


def request_actor(request: Request, settings: Settings) -> Actor:
    """An anonymous actor for audit rows written before anyone is authenticated."""
    return Actor(None, "anonymous", client_ip(request, settings), request.headers.get("user-agent", ""))


def get_actor(request: Request, settings: AppSettings) -> Actor:
    return request_actor(request, settings)


RequestActor = Annotated[Actor, Depends(get_actor)]


async def submitted_csrf_token(request: Request) -> str:
    """The CSRF token sent with an unsafe request (header, or form field). Async because reading
    a form is; it touches no database, so it may run on the event loop."""
    if request.method not in UNSAFE_METHODS:
        return ""
    if token := request.headers.get(CSRF_HEADER):
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FORM_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def optional_principal(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    submitted_csrf: Annotated[str, Depends(submitted_csrf_token)],
) -> Principal | None:
    """Resolve a bearer token or a session cookie; refuse forged or missing CSRF tokens.

    Synchronous on purpose: it queries the database, and blocking calls must run in the thread
    pool, never on the event loop (on SQLite that would deadlock waiting for the write lock)."""
    actor = request_actor(request, settings)
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        found_token = service.find_api_token(db, authorization[7:].strip())
        if found_token is None:
            raise NotAuthenticated(
                "The bearer token is invalid, expired or revoked.",
                code="invalid-token",
                refusal=Refusal("auth.token"),
            )
        record, user = found_token
        record.last_used_at = utcnow()
        return _identified(request, service.principal_for(db, user, via="token", actor=actor))

    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found_session = service.find_browser_session(db, cookie)
    if found_session is None or found_session[0].second_factor_pending:
        return None
    browser_session, user = found_session
    principal = _identified(
        request,
        service.principal_for(
            db,
            user,
            via="session",
            actor=actor,
            csrf_token=browser_session.csrf_token,
            active_clinic_id=browser_session.active_clinic_id,
        ),
    )
    if request.method in UNSAFE_METHODS:
        # Compared as bytes: compare_digest raises TypeError on non-ASCII str, and this is user input.
        expected = browser_session.csrf_token.encode()
        if not (_same_origin(request) and hmac.compare_digest(submitted_csrf.encode(), expected)):
            raise Forbidden(
                "The form's security token is missing or wrong. Reload the page.",
                code="csrf-failed",
                refusal=Refusal("auth.csrf", details={"path": request.url.path}),
            )
    return principal


def _identified(request: Request, principal: Principal) -> Principal:
    """Remember who is calling, for page rendering and for auditing a later refusal."""
    request.state.principal = principal
    request.state.actor = principal.actor
    return principal


def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise NotAuthenticated("Sign in, or send a bearer token.", code="not-authenticated")
    return principal


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def requires(permission: Permission) -> Callable[..., Principal]:
    """A dependency that lets the request through only with ``permission``; refusals are audited."""

    def check(principal: CurrentPrincipal, request: Request) -> Principal:
        if not principal.may(permission):
            raise Forbidden(
                f"Your role may not do this ({permission.value}).",
                code="permission-denied",
                refusal=Refusal(
                    "auth.permission", details={"permission": permission.value, "path": request.url.path}
                ),
            )
        return principal

    return check
