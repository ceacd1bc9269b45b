"""REST routes for formulation (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from mesoclinic.auth.deps import CurrentPrincipal, DbSession, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.formulation import rules, service
from mesoclinic.formulation.schemas import (
    CatalogueRead,
    ClinicIngredientCreate,
    FormulationCreate,
    FormulationDecide,
    FormulationRead,
    IncompatibilityRead,
    IngredientRead,
)

router = APIRouter(prefix="/api/v1", tags=["formulation"])

Reader = Annotated[Principal, Depends(requires(Permission.CLINICAL_READ))]
Clinician = Annotated[Principal, Depends(requires(Permission.CLINICAL_WRITE))]


def _ingredient(i: rules.Ingredient) -> IngredientRead:
    return IngredientRead.model_validate(i.model_dump())


@router.get("/ingredients", response_model=CatalogueRead)
def list_ingredients(
    db: DbSession,
    principal: CurrentPrincipal,
    clinic_id: Annotated[int | None, Query(description="Defaults to the caller's active clinic.")] = None,
) -> CatalogueRead:
    """The ingredient catalogue (built-in, with sources and evidence) plus one clinic's extensions."""
    catalogue, chosen = service.catalogue_for(db, principal, clinic_id)
    return CatalogueRead(
        version=catalogue.version,
        clinic_id=chosen,
        ingredients=[_ingredient(i) for i in catalogue.ingredients],
        incompatibilities=[
            IncompatibilityRead(pair=list(p.pair), reason=p.reason, source=p.source)
            for p in catalogue.incompatibilities
        ],
    )


@router.post(
    "/clinics/{clinic_id}/ingredients", response_model=IngredientRead, status_code=status.HTTP_201_CREATED
)
def add_clinic_ingredient(
    db: DbSession, principal: Clinician, clinic_id: int, data: ClinicIngredientCreate
) -> IngredientRead:
    """Add an ingredient to one clinic's catalogue (or override a built-in one by its code)."""
    return _ingredient(service.add_clinic_ingredient(db, principal, clinic_id, data))


@router.post(
    "/patients/{patient_id}/formulations", response_model=FormulationRead, status_code=status.HTTP_201_CREATED
)
def propose_formulation(
    db: DbSession, principal: Clinician, patient_id: int, data: FormulationCreate
) -> FormulationRead:
    """Propose a cocktail from an assessment: the best-evidenced ingredient per concern, excluding any
    that match the patient's allergies, with incompatible pairs flagged."""
    return FormulationRead.model_validate(service.propose_formulation(db, principal, patient_id, data))


@router.get("/patients/{patient_id}/formulations", response_model=list[FormulationRead])
def list_formulations(db: DbSession, principal: Reader, patient_id: int) -> list[FormulationRead]:
    """A patient's formulations, newest first."""
    return [FormulationRead.model_validate(f) for f in service.list_formulations(db, principal, patient_id)]


@router.get("/formulations/{formulation_id}", response_model=FormulationRead)
def read_formulation(db: DbSession, principal: Reader, formulation_id: int) -> FormulationRead:
    """One formulation: the proposal, the warnings and, once decided, the final cocktail and who decided."""
    return FormulationRead.model_validate(service.get_formulation(db, principal, formulation_id))


@router.post("/formulations/{formulation_id}/decide", response_model=FormulationRead)
def decide_formulation(
    db: DbSession, principal: Clinician, formulation_id: int, data: FormulationDecide
) -> FormulationRead:
    """Record the final cocktail as edited by the practitioner. An allergy match is refused (422
    ``ingredient-allergy``); a known incompatible pair needs ``acknowledge_incompatible`` (409
    ``incompatible-ingredients``); a final formulation cannot be decided again (409)."""
    return FormulationRead.model_validate(service.decide(db, principal, formulation_id, data))
