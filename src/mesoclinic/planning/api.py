"""REST routes for planning (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from mesoclinic.auth.deps import DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.models import CoursePlan
from mesoclinic.planning import service
from mesoclinic.planning.schemas import CourseCreate, CourseRead, CourseUpdate

router = APIRouter(prefix="/api/v1", tags=["planning"])

Reader = Annotated[Principal, Depends(requires(Permission.PATIENT_READ))]
Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]


def _read(course: CoursePlan) -> CourseRead:
    return CourseRead.model_validate(course).model_copy(
        update={"planned_dates": service.planned_dates(course)}
    )


@router.post("/patients/{patient_id}/courses", response_model=CourseRead, status_code=status.HTTP_201_CREATED)
def create_course(db: DbSession, principal: Clinician, patient_id: int, data: CourseCreate) -> CourseRead:
    """Plan a course of sessions from a FINAL formulation (409 ``formulation-not-final`` otherwise).

    Sessions, intervals, session length and maintenance default from the protocol that fits the
    cocktail and the concerns; each may be overridden within the clinic's bounds (422 with the field)."""
    return _read(service.create_course(db, principal, patient_id, data))


@router.get("/patients/{patient_id}/courses", response_model=list[CourseRead])
def list_courses(db: DbSession, principal: Reader, patient_id: int) -> list[CourseRead]:
    """A patient's courses, newest first."""
    return [_read(c) for c in service.list_courses(db, principal, patient_id)]


@router.get("/courses/{course_id}", response_model=CourseRead)
def read_course(db: DbSession, principal: Reader, course_id: int) -> CourseRead:
    """One course with its planned session dates."""
    return _read(service.get_course(db, principal, course_id))


@router.patch("/courses/{course_id}", response_model=CourseRead)
def update_course(db: DbSession, principal: Clinician, course_id: int, data: CourseUpdate) -> CourseRead:
    """Adjust an active course (sessions, intervals, length, start, maintenance); after completion
    only the maintenance interval. 409 ``course-not-active`` otherwise."""
    return _read(service.update_course(db, principal, course_id, data))


@router.post("/courses/{course_id}/cancel", response_model=CourseRead)
def cancel_course(db: DbSession, principal: Clinician, course_id: int) -> CourseRead:
    """Cancel an active course."""
    return _read(service.cancel_course(db, principal, course_id))
