"""Consent text versions for administrators: every version per kind, which one is in force, and
the form that publishes the next version (earlier signatures stop counting, per consent.service)."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from mesoclinic.auth.deps import DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.consent import service
from mesoclinic.consent.rules import ConsentKind
from mesoclinic.consent.schemas import ConsentTextCreate
from mesoclinic.web.forms import EVERY_STATUS, attempt, validate_form
from mesoclinic.web.pages import require_staff_clinic, staff_clinics
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

Admin = Annotated[Principal, Depends(requires(Permission.USER_MANAGE))]


def _page(
    request: Request,
    db: DbSession,
    principal: Principal,
    typed: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    clinic_id = require_staff_clinic(principal)
    return render(
        request,
        "admin/consent.html",
        {
            "clinics": staff_clinics(db, principal),
            "texts": service.list_texts(db, principal, clinic_id),
            "kinds": get_args(ConsentKind),
            "typed": typed or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/admin/consent")
def consent_texts(request: Request, db: DbSession, principal: Admin) -> Response:
    return _page(request, db, principal)


@router.post("/admin/consent")
def publish(
    request: Request,
    db: DbSession,
    principal: Admin,
    kind: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
) -> Response:
    """Publish the next version of a consent text at the active clinic."""
    clinic_id = require_staff_clinic(principal)
    typed = {"kind": kind, "title": title, "body": body}
    data, errors = validate_form(ConsentTextCreate, typed)
    status = 422
    if isinstance(data, ConsentTextCreate):
        done = attempt(
            db, principal, lambda: service.publish_text(db, principal, clinic_id, data), show=EVERY_STATUS
        )
        if not done.refused:
            return RedirectResponse("/admin/consent", status_code=303)
        errors, status = done.errors, done.status
    return _page(request, db, principal, typed, errors, status)
