from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mesoclinic.db import Base, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    PRACTITIONER = "practitioner"
    RECEPTIONIST = "receptionist"
    PATIENT = "patient"


ROLE_VALUES = ", ".join(f"'{role.value}'" for role in Role)


class User(Base):
    __tablename__ = "app_user"
    __table_args__ = (CheckConstraint(f"role IN ({ROLE_VALUES})", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: AES-GCM encrypted with a key derived from the application secret; null until enrolled.
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Last accepted TOTP time step, so a code cannot be replayed within its window.
    totp_last_step: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    memberships: Mapped[list[ClinicMembership]] = relationship(
        back_populates="user", lazy="raise", cascade="all, delete-orphan"
    )


class ClinicMembership(Base):
    """Which clinics a staff user works at; staff see only these clinics' patients."""

    __tablename__ = "clinic_membership"
    __table_args__ = (UniqueConstraint("user_id", "clinic_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships", lazy="raise")


class BrowserSession(Base):
    """A server-side browser session; the cookie holds a random token whose hash is stored."""

    __tablename__ = "browser_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    #: True between a correct password and a correct TOTP code: such a session grants nothing.
    second_factor_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    active_clinic_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinic.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ip: Mapped[str] = mapped_column(String(64), default="")


class ApiToken(Base):
    """A bearer token for integrations; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginAttempt(Base):
    """Failed and successful logins per account and address, for throttling."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_email_time", "email", "attempted_at"),
        Index("ix_login_attempt_ip_time", "ip", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
