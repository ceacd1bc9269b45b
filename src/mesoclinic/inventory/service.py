"""Products, lots and stock of a clinic; the lot gate a session passes; the recall query.

Inventory belongs to a clinic: its staff read it, practitioners and administrators change it.
Anything of another clinic is reported as not found. Stock changes lock the lot row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite already has one writer at a time) so two
concurrent withdrawals cannot both take the last vial.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select, union
from sqlalchemy.orm import Session

from mesoclinic.audit import service as audit
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.clinics import clinic_today
from mesoclinic.db import utcnow
from mesoclinic.errors import Conflict, Forbidden, InvalidInput, NotFound, Refusal
from mesoclinic.inventory import rules
from mesoclinic.inventory.schemas import (
    LotCreate,
    LotRead,
    LotRecipients,
    MovementCreate,
    ProductCreate,
    Recipient,
    ZoneUse,
)
from mesoclinic.models import Clinic, Injection, Lot, Patient, Product, StockMovement, TreatmentSession, User

# --- scope ------------------------------------------------------------------------------------------


def _require_staff(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("Only clinic staff may see the clinic's stock.", code="staff-only")


def _require_writer(principal: Principal) -> None:
    if not principal.may(Permission.CLINICAL_WRITE):
        raise Forbidden(
            "Only practitioners and administrators change stock.",
            code="permission-denied",
            refusal=Refusal("inventory.write", details={"permission": Permission.CLINICAL_WRITE.value}),
        )


def _require_clinic(principal: Principal, clinic_id: int) -> None:
    _require_staff(principal)
    if clinic_id not in principal.clinic_ids:
        raise NotFound("No such clinic.", code="clinic-not-found")


def visible_lots(principal: Principal) -> Select[Lot, Product]:
    """The one place that decides which lots a caller may see: those of the caller's clinics."""
    return (
        select(Lot, Product)
        .join(Product, Product.id == Lot.product_id)
        .where(Product.clinic_id.in_(principal.clinic_ids))
    )


def _get_product(db: Session, principal: Principal, product_id: int) -> Product:
    _require_staff(principal)
    product = db.scalar(
        select(Product).where(Product.id == product_id, Product.clinic_id.in_(principal.clinic_ids))
    )
    if product is None:
        raise NotFound("No such product.", code="product-not-found")
    return product


def _get_lot(db: Session, principal: Principal, lot_id: int, *, lock: bool = False) -> tuple[Lot, Product]:
    _require_staff(principal)
    statement = visible_lots(principal).where(Lot.id == lot_id)
    if lock:
        statement = statement.with_for_update(of=Lot)
    found = db.execute(statement).one_or_none()
    if found is None:
        raise NotFound(
            "No such lot.", code="lot-not-found", refusal=Refusal("inventory.lot.read", "lot", str(lot_id))
        )
    return found


def stock_of(db: Session, lot_id: int) -> int:
    """Units of the lot on the shelf: the sum of its movements."""
    return int(
        db.scalar(
            select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(StockMovement.lot_id == lot_id)
        )
        or 0
    )


# --- products --------------------------------------------------------------------------------------


def create_product(db: Session, principal: Principal, clinic_id: int, data: ProductCreate) -> Product:
    """Add a product to the clinic's catalogue (practitioners and administrators)."""
    _require_clinic(principal, clinic_id)
    _require_writer(principal)
    if problem := rules.product_problem(data.category, data.vial_type):
        field, reason = problem
        raise InvalidInput(reason, code="invalid-product", field=field)
    taken = db.scalar(select(Product.id).where(Product.clinic_id == clinic_id, Product.name == data.name))
    if taken is not None:
        raise Conflict(
            "The clinic already has a product of that name.", code="product-name-taken", field="name"
        )
    product = Product(clinic_id=clinic_id, **data.model_dump())
    db.add(product)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "inventory.product.created",
        target_type="product",
        target_id=product.id,
        clinic_id=clinic_id,
    )
    return product


def list_products(db: Session, principal: Principal, clinic_id: int) -> list[Product]:
    _require_clinic(principal, clinic_id)
    return list(db.scalars(select(Product).where(Product.clinic_id == clinic_id).order_by(Product.name)))


# --- lots ------------------------------------------------------------------------------------------


def _lot_read(lot: Lot, product: Product, stock: int, today: date) -> LotRead:
    return LotRead(
        id=lot.id,
        product_id=product.id,
        product_name=product.name,
        clinic_id=product.clinic_id,
        vial_type=product.vial_type,
        lot_number=lot.lot_number,
        expires_on=lot.expires_on,
        received_on=lot.received_on,
        recalled_at=lot.recalled_at,
        recall_reason=lot.recall_reason,
        stock=stock,
        state=rules.lot_state(lot, today),
    )


def receive_lot(db: Session, principal: Principal, product_id: int, data: LotCreate) -> LotRead:
    """Receive a delivery: the lot and a ``received`` movement of its units."""
    product = _get_product(db, principal, product_id)
    _require_writer(principal)
    today = clinic_today(db, product.clinic_id)
    received_on = data.received_on or today
    if received_on > today:
        raise InvalidInput(
            "A delivery cannot be received in the future.", code="invalid-lot", field="received_on"
        )
    if data.expires_on < received_on:
        raise InvalidInput(
            f"This lot expired on {data.expires_on}, before it was received; do not stock it.",
            code="lot-expired",
            field="expires_on",
        )
    taken = db.scalar(select(Lot.id).where(Lot.product_id == product.id, Lot.lot_number == data.lot_number))
    if taken is not None:
        raise Conflict(
            "This product already has a lot with that number; record more units as a movement.",
            code="lot-number-taken",
            field="lot_number",
        )
    lot = Lot(
        product_id=product.id, lot_number=data.lot_number, expires_on=data.expires_on, received_on=received_on
    )
    db.add(lot)
    db.flush()
    movement = StockMovement(
        lot_id=lot.id,
        kind="received",
        quantity=rules.signed_quantity("received", data.quantity),
        note=data.note,
        created_by_user_id=principal.user_id,
    )
    db.add(movement)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "inventory.lot.received",
        target_type="lot",
        target_id=lot.id,
        clinic_id=product.clinic_id,
        details={"product_id": product.id, "quantity": data.quantity, "movement_id": movement.id},
    )
    return _lot_read(lot, product, data.quantity, today)


def list_lots(
    db: Session,
    principal: Principal,
    clinic_id: int,
    *,
    expiring_within_days: int | None = None,
    include_recalled: bool = False,
) -> list[LotRead]:
    """The clinic's lots with their stock and state, soonest expiry first. With
    ``expiring_within_days`` only lots expiring by then (already expired ones included)."""
    _require_clinic(principal, clinic_id)
    today = clinic_today(db, clinic_id)
    stock = (
        select(StockMovement.lot_id, func.sum(StockMovement.quantity).label("units"))
        .group_by(StockMovement.lot_id)
        .subquery()
    )
    statement = (
        select(Lot, Product, func.coalesce(stock.c.units, 0))
        .join(Product, Product.id == Lot.product_id)
        .outerjoin(stock, stock.c.lot_id == Lot.id)
        .where(Product.clinic_id == clinic_id)
    )
    if expiring_within_days is not None:
        statement = statement.where(Lot.expires_on <= today + timedelta(days=expiring_within_days))
    if not include_recalled:
        statement = statement.where(Lot.recalled_at.is_(None))
    rows = db.execute(statement.order_by(Lot.expires_on, Product.name, Lot.id))
    return [_lot_read(lot, product, int(units), today) for lot, product, units in rows]


def add_movement(
    db: Session, principal: Principal, lot_id: int, data: MovementCreate
) -> tuple[StockMovement, int]:
    """Discard, return to the supplier, or correct the count of a lot; stock never goes below zero."""
    lot, product = _get_lot(db, principal, lot_id, lock=True)
    _require_writer(principal)
    if data.kind == "adjusted" and not data.note:
        raise InvalidInput("Say why the count is corrected.", code="note-required", field="note")
    try:
        change = rules.signed_quantity(data.kind, data.quantity)
    except ValueError as error:
        raise InvalidInput(
            str(error).capitalize() + ".", code="invalid-quantity", field="quantity"
        ) from error
    stock = stock_of(db, lot.id)
    if code := rules.movement_problem(stock, change):
        raise Conflict(
            f"Lot {lot.lot_number} has {stock} unit(s); this movement would take {-change}.",
            code=code,
            field="quantity",
            extra={"stock": stock},
        )
    movement = StockMovement(
        lot_id=lot.id, kind=data.kind, quantity=change, note=data.note, created_by_user_id=principal.user_id
    )
    db.add(movement)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "inventory.stock.moved",
        target_type="lot",
        target_id=lot.id,
        clinic_id=product.clinic_id,
        details={"movement_id": movement.id, "kind": data.kind, "quantity": change},
    )
    return movement, stock + change


def recall_lot(db: Session, principal: Principal, lot_id: int, reason: str) -> LotRead:
    """Mark a lot recalled (once): it can no longer be used, and the recipients query finds who
    received it."""
    lot, product = _get_lot(db, principal, lot_id, lock=True)
    _require_writer(principal)
    if lot.recalled_at is not None:
        raise Conflict(
            f"Lot {lot.lot_number} was already recalled on {lot.recalled_at:%Y-%m-%d}.",
            code="lot-already-recalled",
        )
    lot.recalled_at = utcnow()
    lot.recall_reason = reason
    db.flush()
    audit.record(
        db,
        principal.actor,
        "inventory.lot.recalled",
        target_type="lot",
        target_id=lot.id,
        clinic_id=product.clinic_id,
        details={"product_id": product.id},
    )
    return _lot_read(lot, product, stock_of(db, lot.id), clinic_today(db, product.clinic_id))


def recipients(db: Session, principal: Principal, lot_id: int) -> LotRecipients:
    """Every patient and session that received the lot, in one query: sessions with an injection
    from the lot or a ``used`` movement of it, with patient, practitioner, zones and volume."""
    lot, product = _get_lot(db, principal, lot_id)
    sessions_with_lot = union(
        select(Injection.session_id.label("session_id")).where(Injection.lot_id == lot.id),
        select(StockMovement.session_id.label("session_id")).where(
            StockMovement.lot_id == lot.id, StockMovement.session_id.is_not(None)
        ),
    ).subquery()
    units = (
        select(func.coalesce(-func.sum(StockMovement.quantity), 0))
        .where(
            StockMovement.lot_id == lot.id,
            StockMovement.session_id == TreatmentSession.id,
            StockMovement.kind == "used",
        )
        .correlate(TreatmentSession)
        .scalar_subquery()
    )
    statement = (
        select(
            TreatmentSession.id,
            TreatmentSession.started_at,
            TreatmentSession.status,
            Clinic.timezone,
            Patient.id,
            Patient.given_name,
            Patient.family_name,
            Patient.phone,
            Patient.email,
            User.id,
            User.full_name,
            units,
            Injection.zone,
            Injection.side,
            Injection.total_volume_ml,
        )
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .join(Clinic, Clinic.id == TreatmentSession.clinic_id)
        .join(User, User.id == TreatmentSession.practitioner_user_id)
        .outerjoin(Injection, and_(Injection.session_id == TreatmentSession.id, Injection.lot_id == lot.id))
        .where(
            TreatmentSession.id.in_(select(sessions_with_lot.c.session_id)),
            Patient.clinic_id.in_(principal.clinic_ids),
        )
        .order_by(TreatmentSession.started_at, TreatmentSession.id, Injection.id)
    )
    sessions: dict[int, dict[str, Any]] = {}
    zones: dict[int, dict[tuple[str, str], float]] = defaultdict(dict)
    for row in db.execute(statement):
        (sid, started, status, tz, pid, given, family, phone, email, uid, uname, used, zone, side, volume) = (
            row
        )
        if sid not in sessions:
            sessions[sid] = {
                "session_id": sid,
                "session_date": started.astimezone(ZoneInfo(tz)).date(),
                "session_status": status,
                "patient_id": pid,
                "patient_name": f"{given} {family}",
                "patient_phone": phone,
                "patient_email": email,
                "practitioner_user_id": uid,
                "practitioner_name": uname,
                "units_used": int(used or 0),
            }
        if zone is not None:
            zones[sid][(zone, side)] = zones[sid].get((zone, side), 0.0) + float(volume)
    found = [
        Recipient(
            **facts,
            zones=[ZoneUse(zone=z, side=s, total_volume_ml=round(v, 3)) for (z, s), v in zones[sid].items()],
            total_volume_ml=round(sum(zones[sid].values()), 3),
        )
        for sid, facts in sessions.items()
    ]
    patient_ids = sorted({r.patient_id for r in found})
    audit.record(
        db,
        principal.actor,
        "inventory.recall.read",
        target_type="lot",
        target_id=lot.id,
        clinic_id=product.clinic_id,
        details={"patient_ids": patient_ids, "session_ids": [r.session_id for r in found]},
    )
    return LotRecipients(
        lot_id=lot.id,
        lot_number=lot.lot_number,
        product_id=product.id,
        product_name=product.name,
        recalled_at=lot.recalled_at,
        patient_count=len(patient_ids),
        sessions=found,
    )


# --- the gate other domains call ---------------------------------------------------------------


def require_usable_lot(db: Session, principal: Principal, lot_id: int, clinic_id: int, on_date: date) -> Lot:
    """The lot, if it may be used at ``clinic_id`` on ``on_date``: 404 when it is not that clinic's
    (or not the caller's), 409 ``lot-expired`` or ``lot-recalled`` otherwise."""
    _require_clinic(principal, clinic_id)
    lot, product = _get_lot(db, principal, lot_id)
    if product.clinic_id != clinic_id:
        raise NotFound("No such lot at this clinic.", code="lot-not-found")
    problem = rules.lot_problem(lot, on_date)
    if problem is None:
        return lot
    if lot.recalled_at is not None:
        detail = f"Lot {lot.lot_number} of {product.name} was recalled on {lot.recalled_at:%Y-%m-%d}."
    else:
        detail = f"Lot {lot.lot_number} of {product.name} expired on {lot.expires_on}."
    raise Conflict(
        detail,
        code=problem,
        field="lot_id",
        extra={"lot_id": lot.id},
        refusal=Refusal("inventory.lot.use", "lot", str(lot.id), {"code": problem}),
    )


def record_use(db: Session, principal: Principal, lot: Lot, quantity: int, session_id: int) -> StockMovement:
    """Take ``quantity`` units of ``lot`` for a session (call ``require_usable_lot`` first).
    409 ``insufficient-stock`` when the shelf holds fewer units."""
    _require_writer(principal)
    lot, product = _get_lot(db, principal, lot.id, lock=True)
    session = db.get(TreatmentSession, session_id)
    if session is None or session.clinic_id != product.clinic_id:
        raise NotFound("No such session at the lot's clinic.", code="session-not-found", field="session_id")
    try:
        change = rules.signed_quantity("used", quantity)
    except ValueError as error:
        raise InvalidInput(
            str(error).capitalize() + ".", code="invalid-quantity", field="quantity"
        ) from error
    stock = stock_of(db, lot.id)
    if code := rules.movement_problem(stock, change):
        raise Conflict(
            f"Lot {lot.lot_number} has {stock} unit(s) left; {quantity} needed.",
            code=code,
            field="quantity",
            extra={"stock": stock, "lot_id": lot.id},
        )
    movement = StockMovement(
        lot_id=lot.id,
        kind="used",
        quantity=change,
        session_id=session.id,
        created_by_user_id=principal.user_id,
    )
    db.add(movement)
    db.flush()
    audit.record(
        db,
        principal.actor,
        "inventory.stock.used",
        target_type="lot",
        target_id=lot.id,
        patient_id=session.patient_id,
        clinic_id=session.clinic_id,
        details={"movement_id": movement.id, "session_id": session.id, "quantity": change},
    )
    return movement
