"""The admin page: staff users and roles (with the create-user form) and practitioners'
credentials (with the add form). Consent texts are in ``consent.pages`` under /admin/consent."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from mesoclinic.auth import service as auth
from mesoclinic.auth.deps import DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.auth.schemas import UserCreate
from mesoclinic.practitioners import service
from mesoclinic.practitioners.schemas import QualificationCreate
from mesoclinic.web.forms import EVERY_STATUS, attempt, validate_form
from mesoclinic.web.pages import require_staff_clinic, staff_clinics
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

Admin = Annotated[Principal, Depends(requires(Permission.USER_MANAGE))]
STAFF_ROLE_CHOICES = ("practitioner", "receptionist", "admin")


def _admin_page(
    request: Request,
    db: DbSession,
    principal: Principal,
    *,
    user: dict[str, Any] | None = None,
    user_errors: dict[str, str] | None = None,
    credential: dict[str, Any] | None = None,
    credential_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    clinic_id = require_staff_clinic(principal)
    clinics = staff_clinics(db, principal)
    return render(
        request,
        "admin/index.html",
        {
            "clinics": clinics,
            "clinic_names": {c.id: c.name for c in clinics},
            "staff": service.list_practitioners(db, principal, service.today_for(db, principal)),
            "roles": STAFF_ROLE_CHOICES,
            "user": user or {"clinic_ids": [str(clinic_id)]},
            "user_errors": user_errors or {},
            "credential": credential or {},
            "credential_errors": credential_errors or {},
        },
        status_code=status_code,
    )


@router.get("/admin")
def admin(request: Request, db: DbSession, principal: Admin) -> Response:
    return _admin_page(request, db, principal)


@router.post("/admin/users")
def create_user(
    request: Request,
    db: DbSession,
    principal: Admin,
    email: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    clinic_ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create a staff account in the administrator's own clinics."""
    chosen = [c for c in clinic_ids or [] if c]
    typed = {"email": email, "full_name": full_name, "role": role, "clinic_ids": chosen}
    if role not in STAFF_ROLE_CHOICES:
        role = ""
    data, errors = validate_form(UserCreate, {**typed, "role": role, "password": password})
    status = 422
    if isinstance(data, UserCreate):

        def create() -> None:
            auth.require_staff_admin_of(principal, data.clinic_ids)
            auth.create_user(
                db,
                principal.actor,
                email=str(data.email),
                full_name=data.full_name,
                role=data.role,
                password=data.password,
                clinic_ids=data.clinic_ids,
            )

        done = attempt(db, principal, create, show=EVERY_STATUS)
        if not done.refused:
            return RedirectResponse("/admin#staff", status_code=303)
        errors, status = done.errors, done.status
    return _admin_page(request, db, principal, user=typed, user_errors=errors, status_code=status)


@router.post("/admin/credentials")
def add_credential(
    request: Request,
    db: DbSession,
    principal: Admin,
    user_id: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    licence_number: Annotated[str, Form()] = "",
    issuer: Annotated[str, Form()] = "",
    valid_from: Annotated[str, Form()] = "",
    expires_on: Annotated[str, Form()] = "",
) -> Response:
    """Record a practitioner's credential (a renewal is a new credential)."""
    typed = {
        "user_id": user_id,
        "title": title,
        "licence_number": licence_number,
        "issuer": issuer,
        "valid_from": valid_from,
        "expires_on": expires_on,
    }
    data, errors = validate_form(QualificationCreate, {k: v for k, v in typed.items() if k != "user_id"})
    if not user_id.isdigit():
        errors["user_id"] = "Choose a practitioner."
    status = 422
    if isinstance(data, QualificationCreate) and not errors:
        done = attempt(
            db,
            principal,
            lambda: service.add_qualification(db, principal, int(user_id), data),
            show=EVERY_STATUS,
        )
        if not done.refused:
            return RedirectResponse("/admin#staff", status_code=303)
        errors, status = done.errors, done.status
    return _admin_page(request, db, principal, credential=typed, credential_errors=errors, status_code=status)
