"""The staff home page (patient search) and the patient chart, server-rendered."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.models import Clinic
from mesoclinic.patients import service
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    q: Annotated[str, Query(max_length=100)] = "",
    date_of_birth: date | None = None,
) -> Response:
    if not principal.is_staff:
        if principal.patient_id is None:
            return render(
                request,
                "error.html",
                {
                    "status": 404,
                    "title": "No record",
                    "detail": "Your account is not linked to a patient record yet.",
                },
                status_code=404,
            )
        return RedirectResponse(f"/patients/{principal.patient_id}", status_code=303)
    clinics = db.scalars(
        select(Clinic).where(Clinic.id.in_(principal.clinic_ids)).order_by(Clinic.name)
    ).all()
    patients, total = service.search_patients(
        db, principal, query=q, date_of_birth=date_of_birth, clinic_id=principal.active_clinic_id
    )
    return render(
        request,
        "home.html",
        {
            "clinics": clinics,
            "patients": patients,
            "total": total,
            "q": q,
            "date_of_birth": date_of_birth or "",
        },
    )


@router.get("/patients/{patient_id}")
def patient_chart(request: Request, db: DbSession, principal: CurrentPrincipal, patient_id: int) -> Response:
    patient = service.get_patient(db, principal, patient_id)
    clinic = db.get_one(Clinic, patient.clinic_id)
    return render(request, "patient.html", {"patient": patient, "clinic": clinic, "today": date.today()})
