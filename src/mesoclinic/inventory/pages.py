"""Inventory pages: products, lots with stock and expiry warnings, receiving a delivery, recalling
a lot and the recall's recipients. Every decision is ``inventory.service``'s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.inventory import service
from mesoclinic.inventory.schemas import LotCreate, RecallCreate
from mesoclinic.web.forms import EVERY_STATUS, attempt, validate_form
from mesoclinic.web.pages import require_staff_clinic, staff_clinics
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

#: Refusals shown on the inventory forms; forbidden and not found go to the error page.
SHOWN = EVERY_STATUS - {403, 404}


def _page(
    request: Request,
    db: DbSession,
    principal: Principal,
    *,
    receive: dict[str, Any] | None = None,
    receive_errors: dict[str, str] | None = None,
    recall_errors: dict[int, dict[str, str]] | None = None,
    recall_typed: dict[int, str] | None = None,
    status_code: int = 200,
) -> Response:
    clinic_id = require_staff_clinic(principal)
    return render(
        request,
        "inventory/index.html",
        {
            "clinics": staff_clinics(db, principal),
            "products": service.list_products(db, principal, clinic_id),
            "lots": service.list_lots(db, principal, clinic_id, include_recalled=True),
            "may_write": principal.may(Permission.CLINICAL_WRITE),
            "receive": receive or {},
            "receive_errors": receive_errors or {},
            "recall_errors": recall_errors or {},
            "recall_typed": recall_typed or {},
        },
        status_code=status_code,
    )


@router.get("/inventory")
def inventory(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    return _page(request, db, principal)


@router.post("/inventory/lots")
def receive_lot(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    product_id: Annotated[str, Form()] = "",
    lot_number: Annotated[str, Form()] = "",
    expires_on: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
    received_on: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Receive a delivery from the form; on a refusal the form comes back with what was typed."""
    require_staff_clinic(principal)
    typed = {
        "product_id": product_id,
        "lot_number": lot_number,
        "expires_on": expires_on,
        "quantity": quantity,
        "received_on": received_on,
        "note": note,
    }
    fields = {k: v for k, v in typed.items() if k != "product_id"}
    data, errors = validate_form(LotCreate, fields)
    if not product_id.isdigit():
        errors["product_id"] = "Choose a product."
    status = 422
    if isinstance(data, LotCreate) and not errors:
        done = attempt(
            db, principal, lambda: service.receive_lot(db, principal, int(product_id), data), show=SHOWN
        )
        if not done.refused:
            return RedirectResponse(f"/inventory#lot-{done.result.id}", status_code=303)
        errors, status = done.errors, done.status
    return _page(request, db, principal, receive=typed, receive_errors=errors, status_code=status)


@router.post("/inventory/lots/{lot_id}/recall")
def recall_lot(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    lot_id: int,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Recall a lot, then show who received it."""
    require_staff_clinic(principal)
    data, errors = validate_form(RecallCreate, {"reason": reason})
    status = 422
    if isinstance(data, RecallCreate):
        done = attempt(
            db, principal, lambda: service.recall_lot(db, principal, lot_id, data.reason), show=SHOWN
        )
        if not done.refused:
            return RedirectResponse(f"/inventory/lots/{lot_id}/recipients", status_code=303)
        errors, status = done.errors, done.status
    return _page(
        request,
        db,
        principal,
        recall_errors={lot_id: errors},
        recall_typed={lot_id: reason},
        status_code=status,
    )


@router.get("/inventory/lots/{lot_id}/recipients")
def recipients(request: Request, db: DbSession, principal: CurrentPrincipal, lot_id: int) -> Response:
    """Every patient and session that received the lot, with contact details for the recall."""
    require_staff_clinic(principal)
    return render(
        request,
        "inventory/recipients.html",
        {"clinics": staff_clinics(db, principal), "recall": service.recipients(db, principal, lot_id)},
    )
