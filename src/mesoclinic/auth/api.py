"""Bearer tokens for integrations, the caller's identity, and user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from mesoclinic.audit.service import Actor
from mesoclinic.auth import service
from mesoclinic.auth.deps import (
    AppSettings,
    CurrentPrincipal,
    DbSession,
    RequestActor,
    requires,
)
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.auth.schemas import Me, TokenIssued, TokenRequest, UserCreate, UserRead

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/tokens", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
def issue_token(db: DbSession, settings: AppSettings, actor: RequestActor, data: TokenRequest) -> TokenIssued:
    """Exchange email, password (and the TOTP code when enrolled) for a bearer token."""
    user = service.authenticate_for_token(db, settings, data.email, data.password, data.totp_code, actor)
    user_actor = Actor(user.id, user.email, actor.ip, actor.user_agent)
    issued = service.issue_api_token(db, settings, user, data.name, user_actor)
    return TokenIssued(id=issued.record.id, token=issued.token, expires_at=issued.record.expires_at)


@router.delete("/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(db: DbSession, principal: CurrentPrincipal, token_id: int) -> None:
    """Revoke one of your own tokens; it stops working at once."""
    service.revoke_api_token(db, principal, token_id)


@router.get("/me", response_model=Me)
def me(principal: CurrentPrincipal) -> Me:
    """Who the caller is, their role and the clinics they may see."""
    return Me(
        id=principal.user_id,
        email=principal.email,
        full_name=principal.full_name,
        role=principal.role,
        clinic_ids=sorted(principal.clinic_ids),
        patient_id=principal.patient_id,
    )


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED)
def create_user(
    db: DbSession,
    principal: Annotated[Principal, Depends(requires(Permission.USER_MANAGE))],
    data: UserCreate,
) -> UserRead:
    """Create a staff or patient account in the administrator's own clinics."""
    service.require_staff_admin_of(principal, data.clinic_ids)
    user = service.create_user(
        db,
        principal.actor,
        email=str(data.email),
        full_name=data.full_name,
        role=data.role,
        password=data.password,
        clinic_ids=data.clinic_ids,
    )
    return UserRead.model_validate(user)
