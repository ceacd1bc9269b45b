"""The FastAPI application: routers, security headers, and one error rendering for everything."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mesoclinic import __version__
from mesoclinic.aftercare import api as aftercare_api
from mesoclinic.aftercare import pages as aftercare_pages
from mesoclinic.assessment import api as assessment_api
from mesoclinic.auth import api as auth_api
from mesoclinic.auth import pages as auth_pages
from mesoclinic.consent import api as consent_api
from mesoclinic.consent import pages as consent_pages
from mesoclinic.consultation import pages as consultation_pages
from mesoclinic.db import make_engine, make_session_factory
from mesoclinic.errors import MesoClinicError, NotAuthenticated, PayloadTooLarge
from mesoclinic.formulation import api as formulation_api
from mesoclinic.health import router as health_router
from mesoclinic.imaging import api as imaging_api
from mesoclinic.imaging import pages as imaging_pages
from mesoclinic.inventory import api as inventory_api
from mesoclinic.inventory import pages as inventory_pages
from mesoclinic.messaging import api as messaging_api
from mesoclinic.patients import api as patients_api
from mesoclinic.patients import pages as patients_pages
from mesoclinic.planning import api as planning_api
from mesoclinic.portal import pages as portal_pages
from mesoclinic.practitioners import api as practitioners_api
from mesoclinic.practitioners import pages as practitioners_pages
from mesoclinic.scheduling import api as scheduling_api
from mesoclinic.scheduling import pages as scheduling_pages
from mesoclinic.screening import api as screening_api
from mesoclinic.settings import Settings, get_settings
from mesoclinic.suitability import pages as suitability_pages
from mesoclinic.treatment import api as treatment_api
from mesoclinic.treatment import pages as treatment_pages
from mesoclinic.web import pages as web_pages
from mesoclinic.web.templating import render

log = logging.getLogger("mesoclinic")
access_log = logging.getLogger("mesoclinic.access")

PROBLEM_JSON = "application/problem+json"
MAX_REQUEST_BYTES = 1 * 1024 * 1024
#: Photo uploads (``POST /api/v1/patients/{id}/photos``) may be up to ``settings.photo_max_bytes``.
PHOTO_UPLOAD_SUFFIX = "/photos"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/fhir", "/health")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _problem(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _same_site_referrer(request: Request) -> str | None:
    """The page the refused request came from (path and query), when it is one of ours: the error
    page links back to the form instead of only to the start page."""
    referrer = urlsplit(request.headers.get("referer", ""))
    if referrer.netloc != request.url.netloc or not referrer.path.startswith("/"):
        return None
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "detail": detail, "back": _same_site_referrer(request)},
        status_code=status,
    )


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB".replace(".0 MB", " MB")


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, MesoClinicError):
        raise exc
    if wants_html(request):
        if isinstance(exc, NotAuthenticated) and request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target}, safe='/')}", status_code=303)
        return _error_page(request, exc.status, exc.title, exc.detail)
    headers = {}
    if "retry_after_seconds" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after_seconds"])
    return _problem(exc.status, exc.problem(instance=request.url.path), headers)


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """``("medications", 0, "stopped_on")`` → ``medications.0.stopped_on``, without pydantic's
    union-member labels such as ``literal['']``."""
    return ".".join(str(part) for part in location if isinstance(part, int) or str(part).isidentifier())


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors: list[dict[str, str]] = []
    for error in exc.errors():
        location = str(error["loc"][0]) if error["loc"] else ""
        field = _field_path(
            error["loc"][1:] if location in ("body", "query", "path", "header") else error["loc"]
        )
        if any(seen["field"] == field for seen in errors):
            continue  # one message per field, not one per member of a union type
        errors.append({"field": field, "location": location, "message": error["msg"]})
    detail = "; ".join(f"{e['field'] or e['location']}: {e['message']}" for e in errors)
    body = {
        "type": "https://mesoclinic.org/problems/invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": detail,
        "code": "invalid-input",
        "field": errors[0]["field"] if errors else None,
        "errors": errors,
        "instance": request.url.path,
    }
    if wants_html(request):
        return _error_page(request, 422, "Invalid input", detail)
    return _problem(422, body)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    if wants_html(request):
        return _error_page(request, exc.status_code, title, detail)
    body = {
        "type": "about:blank",
        "title": title,
        "status": exc.status_code,
        "detail": detail,
        "instance": request.url.path,
    }
    return _problem(exc.status_code, body, dict(exc.headers or {}))


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    # Log the exception type and path only: messages may quote patient data.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    if wants_html(request):
        return _error_page(request, 500, "Something went wrong", "The error was logged. Nothing was saved.")
    body = {
        "type": "about:blank",
        "title": "Internal error",
        "status": 500,
        "detail": "The error was logged; the change was not saved.",
        "instance": request.url.path,
    }
    return _problem(500, body)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="MesoClinic",
        version=__version__,
        description="Clinical platform for facial mesotherapy clinics.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)

    app.add_exception_handler(MesoClinicError, handle_domain_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        length = request.headers.get("content-length")
        photo = request.url.path.endswith(PHOTO_UPLOAD_SUFFIX)
        limit = settings.photo_max_bytes if photo else MAX_REQUEST_BYTES
        if length is not None and (not length.isdigit() or int(length) > limit):
            what = "Photos" if photo else "Requests here"
            size = f" (this one is {_megabytes(int(length))})" if length.isdigit() else ""
            response = await handle_domain_error(
                request,
                PayloadTooLarge(f"{what} are limited to {_megabytes(limit)}{size}.", field="content-length"),
            )
        else:
            try:
                response = await call_next(request)
            except Exception as exc:  # caught here so no traceback (which may quote PHI) is logged
                response = await handle_unexpected_error(request, exc)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if settings.production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # Path without the query string: searches carry names and birth dates.
        access_log.info(
            "%s %s %d %.1fms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static")
    app.include_router(health_router)
    app.include_router(auth_api.router)
    app.include_router(patients_api.router)
    for clinical_api in (
        screening_api,
        assessment_api,
        formulation_api,
        planning_api,
        consent_api,
        practitioners_api,
        inventory_api,
        treatment_api,
        aftercare_api,
        scheduling_api,
        messaging_api,
        imaging_api,
    ):
        app.include_router(clinical_api.router)
    app.include_router(messaging_api.calendar_router)  # public, token-protected .ics feeds
    app.include_router(auth_pages.router)
    app.include_router(patients_pages.router)
    for page_router in (
        web_pages,
        aftercare_pages,
        inventory_pages,
        scheduling_pages,
        treatment_pages,
        consultation_pages,
        portal_pages,
        suitability_pages,
        practitioners_pages,
        consent_pages,
        imaging_pages,
    ):
        app.include_router(page_router.router)
    return app
