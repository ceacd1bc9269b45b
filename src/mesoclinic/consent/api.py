"""REST routes for consent (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from fastapi import APIRouter, status

from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.consent import service
from mesoclinic.consent.rules import ConsentKind
from mesoclinic.consent.schemas import (
    ConsentOverview,
    ConsentRecordRead,
    ConsentSign,
    ConsentTextCreate,
    ConsentTextRead,
    ConsentWithdraw,
)
from mesoclinic.models import ConsentText

router = APIRouter(prefix="/api/v1", tags=["consent"])


def _text_read(text: ConsentText, current: bool) -> ConsentTextRead:
    return ConsentTextRead.model_validate(text).model_copy(update={"current": current})


@router.post(
    "/clinics/{clinic_id}/consent-texts", response_model=ConsentTextRead, status_code=status.HTTP_201_CREATED
)
def publish_text(
    db: DbSession, principal: CurrentPrincipal, clinic_id: int, data: ConsentTextCreate
) -> ConsentTextRead:
    """Publish the next version of the clinic's treatment, photo or marketing consent
    (administrators). Versions are numbered automatically and never edited; publishing one means
    patients must sign it before their consent counts again."""
    text = service.publish_text(db, principal, clinic_id, data)
    return _text_read(text, current=True)


@router.get("/clinics/{clinic_id}/consent-texts", response_model=list[ConsentTextRead])
def list_texts(
    db: DbSession, principal: CurrentPrincipal, clinic_id: int, kind: ConsentKind | None = None
) -> list[ConsentTextRead]:
    """Every version of the clinic's consent texts, newest first per kind, with the one in force
    flagged `current`. Staff of the clinic and its patients may read them."""
    return [_text_read(text, current) for text, current in service.list_texts(db, principal, clinic_id, kind)]


@router.post(
    "/patients/{patient_id}/consents", response_model=ConsentRecordRead, status_code=status.HTTP_201_CREATED
)
def sign(db: DbSession, principal: CurrentPrincipal, patient_id: int, data: ConsentSign) -> ConsentRecordRead:
    """Sign the current version of a consent text with the typed full name and a drawn signature:
    by the patient in the portal, or on the clinic's tablet with the staff member as witness
    (treatment consent is witnessed by a practitioner or administrator)."""
    return ConsentRecordRead.model_validate(service.sign(db, principal, patient_id, data))


@router.get("/patients/{patient_id}/consents", response_model=ConsentOverview)
def list_consents(db: DbSession, principal: CurrentPrincipal, patient_id: int) -> ConsentOverview:
    """The patient's signatures, newest first, each with its state, and whether treatment, photo
    and marketing consent hold now (`valid`, `none`, `withdrawn`, `superseded`, `no_text`)."""
    return service.overview(db, principal, patient_id)


@router.post("/consents/{consent_id}/withdraw", response_model=ConsentRecordRead)
def withdraw(
    db: DbSession, principal: CurrentPrincipal, consent_id: int, data: ConsentWithdraw
) -> ConsentRecordRead:
    """Withdraw a consent (the patient, or staff on their behalf). The signature is kept with the
    date and reason of withdrawal; withdrawing twice is refused."""
    return ConsentRecordRead.model_validate(service.withdraw(db, principal, consent_id, data))
