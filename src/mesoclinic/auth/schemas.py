from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from mesoclinic.models.user import Role


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(default=None, max_length=10)
    name: str = Field(default="api", min_length=1, max_length=100, description="A label for the token")


class TokenIssued(BaseModel):
    id: int
    token: str = Field(description="Shown once; send as 'Authorization: Bearer <token>'")
    expires_at: datetime


class Me(BaseModel):
    id: int
    email: str
    full_name: str
    role: Role
    clinic_ids: list[int]
    patient_id: int | None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=1, max_length=1024)
    clinic_ids: list[int] = Field(default_factory=list)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool
