from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mesoclinic.db import Base, utcnow


class Product(Base):
    """A product a clinic stocks (a vial of a cocktail, a booster, an anaesthetic cream…)."""

    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint(
            "vial_type IN ('single_dose', 'multi_dose', 'not_applicable')", name="vial_type_known"
        ),
        UniqueConstraint("clinic_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    manufacturer: Mapped[str] = mapped_column(String(200), default="")
    #: ``injectable`` or ``topical_anaesthetic``.
    category: Mapped[str] = mapped_column(String(30), default="injectable")
    #: Ingredient codes from the formulation catalogue, for allergy cross-checks.
    ingredient_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    vial_type: Mapped[str] = mapped_column(String(20), default="single_dose")
    volume_ml: Mapped[float | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lot(Base):
    __tablename__ = "lot"
    __table_args__ = (UniqueConstraint("product_id", "lot_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="RESTRICT"), index=True)
    lot_number: Mapped[str] = mapped_column(String(60))
    expires_on: Mapped[date]
    received_on: Mapped[date]
    recalled_at: Mapped[datetime | None] = mapped_column(default=None)
    recall_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockMovement(Base):
    """Every change of stock as a signed quantity of units (vials, tubes); stock is their sum."""

    __tablename__ = "stock_movement"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('received', 'used', 'discarded', 'adjusted', 'returned')", name="kind_known"
        ),
        Index("ix_stock_movement_lot", "lot_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(12))
    quantity: Mapped[int]
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="RESTRICT"), default=None
    )
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
