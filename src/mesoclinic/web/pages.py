"""The staff frame: the Today page, and the helpers the staff pages share (forms: ``web.forms``).

Pages stay thin: every decision is a domain service call; a page only gathers what the services
return and names the people and rooms behind the ids.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.aftercare import service as aftercare
from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.auth.rules import Principal
from mesoclinic.clinics import clinic_today
from mesoclinic.errors import Forbidden
from mesoclinic.inventory import service as inventory
from mesoclinic.messaging import service as messaging
from mesoclinic.models import Clinic, Patient, Room, User
from mesoclinic.scheduling import service as scheduling
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

#: "Lots near expiry" on the Today page: what to use first or order again within a month.
EXPIRY_WARNING_DAYS = 30


# --- helpers for the staff pages ----------------------------------------------------------------


def require_staff_clinic(principal: Principal) -> int:
    """The clinic a staff page shows (the switcher's choice); patients are refused."""
    if not principal.is_staff or principal.active_clinic_id is None:
        raise Forbidden("This page is for clinic staff.", code="staff-only")
    return principal.active_clinic_id


def staff_clinics(db: Session, principal: Principal) -> list[Clinic]:
    """The clinics for the switcher in the header."""
    return list(db.scalars(select(Clinic).where(Clinic.id.in_(principal.clinic_ids)).order_by(Clinic.name)))


# --- Today ----------------------------------------------------------------------------------------


@router.get("/today")
def today_page(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    clinic_id = require_staff_clinic(principal)
    today = clinic_today(db, clinic_id)
    day = scheduling.clinic_day(db, principal, clinic_id, today)
    patient_ids = {a.patient_id for a in day.appointments}
    user_ids = {a.practitioner_user_id for a in day.appointments}
    room_ids = {a.room_id for a in day.appointments}
    patients = (
        {p.id: p for p in db.scalars(select(Patient).where(Patient.id.in_(patient_ids)))}
        if patient_ids
        else {}
    )
    users = (
        {u.id: u.full_name for u in db.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    )
    rooms = {r.id: r.name for r in db.scalars(select(Room).where(Room.id.in_(room_ids)))} if room_ids else {}
    by_practitioner: dict[str, list[Any]] = defaultdict(list)
    for appointment in day.appointments:
        by_practitioner[users.get(appointment.practitioner_user_id, "?")].append(appointment)
    escalations = [e for e in aftercare.escalation_queue(db, principal) if e.clinic_id == clinic_id]
    escalated = {e.patient_id for e in escalations} - set(patients)
    if escalated:
        patients.update({p.id: p for p in db.scalars(select(Patient).where(Patient.id.in_(escalated)))})
    return render(
        request,
        "today/index.html",
        {
            "clinics": staff_clinics(db, principal),
            "today": today,
            "zone": ZoneInfo(db.get_one(Clinic, clinic_id).timezone),
            "day": day,
            "by_practitioner": sorted(by_practitioner.items()),
            "patients": patients,
            "rooms": rooms,
            "checked_in": sum(1 for a in day.appointments if a.status in ("checked_in", "completed")),
            "escalations": escalations,
            "maintenance": messaging.maintenance_due(db, principal, clinic_id),
            "expiring": inventory.list_lots(
                db, principal, clinic_id, expiring_within_days=EXPIRY_WARNING_DAYS
            ),
            "expiry_days": EXPIRY_WARNING_DAYS,
        },
    )
