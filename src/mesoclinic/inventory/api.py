"""REST routes for inventory (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.inventory import rules, service
from mesoclinic.inventory.schemas import (
    Advisory,
    LotCreate,
    LotRead,
    LotRecipients,
    MovementCreate,
    MovementRead,
    ProductCreate,
    ProductRead,
    RecallCreate,
)
from mesoclinic.models import Product

router = APIRouter(prefix="/api/v1", tags=["inventory"])


def _product_read(product: Product) -> ProductRead:
    advisories = [Advisory(**a) for a in rules.advisories(product.vial_type)]
    return ProductRead.model_validate(product).model_copy(update={"advisories": advisories})


@router.post("/clinics/{clinic_id}/products", response_model=ProductRead, status_code=status.HTTP_201_CREATED)
def create_product(
    db: DbSession, principal: CurrentPrincipal, clinic_id: int, data: ProductCreate
) -> ProductRead:
    """Add a product to the clinic's catalogue (practitioners and administrators). Injectables
    must say whether they come in single- or multi-dose vials."""
    return _product_read(service.create_product(db, principal, clinic_id, data))


@router.get("/clinics/{clinic_id}/products", response_model=list[ProductRead])
def list_products(db: DbSession, principal: CurrentPrincipal, clinic_id: int) -> list[ProductRead]:
    """The clinic's products, by name, with advisories (e.g. on multi-dose vials)."""
    return [_product_read(p) for p in service.list_products(db, principal, clinic_id)]


@router.post("/products/{product_id}/lots", response_model=LotRead, status_code=status.HTTP_201_CREATED)
def receive_lot(db: DbSession, principal: CurrentPrincipal, product_id: int, data: LotCreate) -> LotRead:
    """Receive a delivery of a product: the lot (number, expiry) and its units into stock.
    A lot already expired on arrival is refused."""
    return service.receive_lot(db, principal, product_id, data)


@router.get("/clinics/{clinic_id}/lots", response_model=list[LotRead])
def list_lots(
    db: DbSession,
    principal: CurrentPrincipal,
    clinic_id: int,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=3660)] = None,
    include_recalled: bool = False,
) -> list[LotRead]:
    """The clinic's lots with units in stock and state (`usable`, `expiring_soon`, `expired`,
    `recalled`), soonest expiry first; `expiring_within_days` keeps those expiring by then."""
    return service.list_lots(
        db, principal, clinic_id, expiring_within_days=expiring_within_days, include_recalled=include_recalled
    )


@router.post("/lots/{lot_id}/movements", response_model=MovementRead, status_code=status.HTTP_201_CREATED)
def add_movement(
    db: DbSession, principal: CurrentPrincipal, lot_id: int, data: MovementCreate
) -> MovementRead:
    """Discard units, return them to the supplier, or correct the count after a stock-take (with a
    note). Stock may not go below zero (409 `insufficient-stock`). Use in a session is recorded by
    the session itself."""
    movement, stock_after = service.add_movement(db, principal, lot_id, data)
    return MovementRead.model_validate(movement).model_copy(update={"stock_after": stock_after})


@router.post("/lots/{lot_id}/recall", response_model=LotRead)
def recall_lot(db: DbSession, principal: CurrentPrincipal, lot_id: int, data: RecallCreate) -> LotRead:
    """Recall a lot: from now on it is refused for any session. Recorded once (409 when already
    recalled)."""
    return service.recall_lot(db, principal, lot_id, data.reason)


@router.get("/lots/{lot_id}/recipients", response_model=LotRecipients)
def lot_recipients(db: DbSession, principal: CurrentPrincipal, lot_id: int) -> LotRecipients:
    """Every patient and session that received the lot (patient, session date and status,
    practitioner, zones and volume, units used), in one query; the read is audited."""
    return service.recipients(db, principal, lot_id)
