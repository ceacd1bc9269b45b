"""REST routes for treatment sessions (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session

from mesoclinic.auth.deps import DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.models import TreatmentSession
from mesoclinic.treatment import service
from mesoclinic.treatment.schemas import (
    AmendmentIn,
    AmendmentRead,
    InjectionIn,
    InjectionRead,
    InjectionRecorded,
    NumbingStep,
    SessionRead,
    SessionSign,
    SessionStart,
)

router = APIRouter(prefix="/api/v1", tags=["treatment"])

Reader = Annotated[Principal, Depends(requires(Permission.CLINICAL_READ))]
Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]


def session_read(db: Session, session: TreatmentSession) -> SessionRead:
    injections = [InjectionRead.model_validate(i) for i in session.injections]
    return SessionRead.model_validate(
        {
            **{
                c: getattr(session, c)
                for c in SessionRead.model_fields
                if hasattr(session, c) and c != "injections"
            },
            "injections": injections,
            "total_volume_ml": round(sum(i.total_volume_ml for i in injections), 4),
            "total_points": sum(i.points for i in injections),
            "amendments": [AmendmentRead.model_validate(a) for a in service.amendments_of(db, session.id)],
        }
    )


@router.post("/courses/{course_id}/sessions", response_model=SessionRead, status_code=status.HTTP_201_CREATED)
def start_session(db: DbSession, principal: Clinician, course_id: int, data: SessionStart) -> SessionRead:
    """Start the course's next session. Refused (409, naming the rule) unless today's screening is
    cleared, treatment consent is valid, the practitioner's mesotherapy credential is current and
    the minimum interval since the previous session has passed."""
    return session_read(db, service.start_session(db, principal, course_id, data))


@router.get("/sessions/{session_id}", response_model=SessionRead)
def read_session(db: DbSession, principal: Reader, session_id: int) -> SessionRead:
    """One session with its checklist, injections, totals and amendments."""
    return session_read(db, service.get_session(db, principal, session_id))


@router.get("/patients/{patient_id}/sessions", response_model=list[SessionRead])
def list_sessions(db: DbSession, principal: Reader, patient_id: int) -> list[SessionRead]:
    """A patient's sessions, oldest first."""
    return [session_read(db, s) for s in service.list_sessions(db, principal, patient_id)]


@router.post("/sessions/{session_id}/steps/skin-cleansed", response_model=SessionRead)
def skin_cleansed(db: DbSession, principal: Clinician, session_id: int) -> SessionRead:
    """Checklist: the skin was cleansed and disinfected."""
    return session_read(db, service.mark_skin_cleansed(db, principal, session_id))


@router.post("/sessions/{session_id}/steps/numbing", response_model=SessionRead)
def numbing(db: DbSession, principal: Clinician, session_id: int, data: NumbingStep) -> SessionRead:
    """Checklist: numbing cream applied (product and time; the wait is enforced) or declined."""
    return session_read(db, service.record_numbing(db, principal, session_id, data))


@router.post(
    "/sessions/{session_id}/injections", response_model=InjectionRecorded, status_code=status.HTTP_201_CREATED
)
def add_injection(
    db: DbSession, principal: Clinician, session_id: int, data: InjectionIn
) -> InjectionRecorded:
    """Record one zone: technique, depth, volume per point, points, needle, product and lot.
    Expired or recalled lots are refused; unusual values are accepted and returned as notices."""
    injection, notices = service.add_injection(db, principal, session_id, data)
    return InjectionRecorded.model_validate(
        {**InjectionRead.model_validate(injection).model_dump(), "notices": notices}
    )


@router.post("/sessions/{session_id}/sign", response_model=SessionRead)
def sign_session(db: DbSession, principal: Clinician, session_id: int, data: SessionSign) -> SessionRead:
    """Sign off the session. It cannot be changed afterwards; aftercare check-ins are scheduled."""
    return session_read(db, service.sign_session(db, principal, session_id, data))


@router.post(
    "/sessions/{session_id}/amendments", response_model=AmendmentRead, status_code=status.HTTP_201_CREATED
)
def amend_session(db: DbSession, principal: Clinician, session_id: int, data: AmendmentIn) -> AmendmentRead:
    """Correct a signed session: a new, attributed row beside the original, with the reason."""
    return AmendmentRead.model_validate(service.amend_session(db, principal, session_id, data))
