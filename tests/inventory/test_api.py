"""Products, lots, stock movements and recalls over the API; the lot gate and stock use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from mesoclinic.errors import Conflict, NotFound
from mesoclinic.inventory.service import record_use, require_usable_lot
from mesoclinic.models import AuditEvent, Lot, Product, StockMovement
from tests.conftest import count
from tests.inventory.conftest import Stock, Treated, principal, today
from tests.support import World, bearer


def product(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Skin booster 1 mL",
        "manufacturer": "Example Pharma",
        "category": "injectable",
        "ingredient_codes": [" NCHA ", "glycerol"],
        "vial_type": "single_dose",
        "volume_ml": 1.0,
    }
    body.update(overrides)
    return body


def lot(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lot_number": "SB-2027-01",
        "expires_on": str(today() + timedelta(days=365)),
        "quantity": 12,
    }
    body.update(overrides)
    return body


def movements(db: Session, lot_id: int) -> list[tuple[str, int]]:
    db.rollback()
    rows = db.execute(
        select(StockMovement.kind, StockMovement.quantity)
        .where(StockMovement.lot_id == lot_id)
        .order_by(StockMovement.id)
    )
    return [(kind, quantity) for kind, quantity in rows]


# --- products ---------------------------------------------------------------------------------------


def test_a_practitioner_adds_a_product_to_the_clinic(client: TestClient, world: World, db: Session) -> None:
    response = client.post(
        f"/api/v1/clinics/{world.clinic_a}/products", json=product(), headers=bearer(client, world.clinician)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["clinic_id"], body["ingredient_codes"], body["advisories"]) == (
        world.clinic_a,
        ["ncha", "glycerol"],
        [],
    )
    assert db.get_one(Product, body["id"]).vial_type == "single_dose"
    event_ = db.scalars(select(AuditEvent).where(AuditEvent.action == "inventory.product.created")).one()
    assert (event_.target_id, event_.clinic_id) == (str(body["id"]), world.clinic_a)


def test_a_multi_dose_product_carries_the_outbreak_advisory(client: TestClient, world: World) -> None:
    response = client.post(
        f"/api/v1/clinics/{world.clinic_a}/products",
        json=product(vial_type="multi_dose"),
        headers=bearer(client, world.admin),
    )
    assert [a["code"] for a in response.json()["advisories"]] == ["multi-dose-vial"]


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"vial_type": "not_applicable"}, 422, "vial_type"),
        ({"ingredient_codes": ["<b>"]}, 422, "ingredient_codes.0"),
        ({"name": "NCHA booster 2 mL"}, 409, "name"),  # the stock fixture's product
        ({"colour": "blue"}, 422, "colour"),
    ],
)
def test_it_refuses_an_invalid_or_duplicate_product(
    client: TestClient,
    world: World,
    db: Session,
    stock: Stock,
    overrides: dict[str, Any],
    status: int,
    field: str,
) -> None:
    response = client.post(
        f"/api/v1/clinics/{world.clinic_a}/products",
        json=product(**overrides),
        headers=bearer(client, world.clinician),
    )
    assert (response.status_code, response.json()["field"]) == (status, field)
    assert count(db, "product") == 2


def test_only_clinical_staff_of_the_clinic_add_products(
    client: TestClient, world: World, db: Session
) -> None:
    url = f"/api/v1/clinics/{world.clinic_a}/products"
    for email, status in [(world.receptionist, 403), (world.colleague, 404), (world.patient_user, 403)]:
        assert client.post(url, json=product(), headers=bearer(client, email)).status_code == status, email
    assert count(db, "product") == 0


def test_staff_read_their_clinics_products_only(client: TestClient, world: World, stock: Stock) -> None:
    desk = bearer(client, world.receptionist)
    listed = client.get(f"/api/v1/clinics/{world.clinic_a}/products", headers=desk)
    assert [p["id"] for p in listed.json()] == [stock.product_a]
    assert client.get(f"/api/v1/clinics/{world.clinic_b}/products", headers=desk).status_code == 404


# --- lots -------------------------------------------------------------------------------------------


def test_receiving_a_lot_puts_its_units_in_stock(
    client: TestClient, world: World, db: Session, stock: Stock
) -> None:
    response = client.post(
        f"/api/v1/products/{stock.product_a}/lots", json=lot(), headers=bearer(client, world.clinician)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["stock"], body["state"], body["received_on"]) == (12, "usable", str(today()))
    assert movements(db, body["id"]) == [("received", 12)]
    event_ = db.scalars(select(AuditEvent).where(AuditEvent.action == "inventory.lot.received")).one()
    assert event_.details["quantity"] == 12


@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        ({"expires_on": str(today() - timedelta(days=1))}, 422, "lot-expired", "expires_on"),
        ({"received_on": str(today() + timedelta(days=1))}, 422, "invalid-lot", "received_on"),
        ({"lot_number": "HA-2026-001"}, 409, "lot-number-taken", "lot_number"),
        ({"quantity": 0}, 422, "invalid-input", "quantity"),
    ],
)
def test_it_refuses_a_lot_that_cannot_be_stocked(
    client: TestClient,
    world: World,
    db: Session,
    stock: Stock,
    overrides: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    response = client.post(
        f"/api/v1/products/{stock.product_a}/lots",
        json=lot(**overrides),
        headers=bearer(client, world.clinician),
    )
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (status, code, field)
    assert (count(db, "lot"), count(db, "stock_movement")) == (5, 5)


def test_another_clinics_product_is_not_found(
    client: TestClient, world: World, db: Session, stock: Stock
) -> None:
    response = client.post(
        f"/api/v1/products/{stock.product_b}/lots", json=lot(), headers=bearer(client, world.clinician)
    )
    assert (response.status_code, response.json()["code"]) == (404, "product-not-found")
    refused = client.post(
        f"/api/v1/products/{stock.product_a}/lots", json=lot(), headers=bearer(client, world.receptionist)
    )
    assert refused.status_code == 403
    assert count(db, "lot") == 5


def test_the_lot_list_shows_stock_and_state_and_filters_by_expiry(
    client: TestClient, world: World, stock: Stock
) -> None:
    headers = bearer(client, world.receptionist)
    url = f"/api/v1/clinics/{world.clinic_a}/lots"
    listed = {row["id"]: (row["stock"], row["state"]) for row in client.get(url, headers=headers).json()}
    assert listed == {
        stock.expired_a: (4, "expired"),
        stock.soon_a: (2, "expiring_soon"),
        stock.lot_a: (10, "usable"),
    }
    expiring = client.get(url, params={"expiring_within_days": 30}, headers=headers).json()
    assert [row["id"] for row in expiring] == [stock.expired_a, stock.soon_a]
    with_recalled = client.get(url, params={"include_recalled": True}, headers=headers).json()
    assert {row["id"] for row in with_recalled} == {
        stock.expired_a,
        stock.soon_a,
        stock.lot_a,
        stock.recalled_a,
    }
    assert client.get(f"/api/v1/clinics/{world.clinic_b}/lots", headers=headers).status_code == 404


# --- movements ---------------------------------------------------------------------------------------


def test_discarding_returning_and_adjusting_change_stock(
    client: TestClient, world: World, db: Session, stock: Stock
) -> None:
    headers = bearer(client, world.clinician)
    url = f"/api/v1/lots/{stock.lot_a}/movements"
    discarded = client.post(
        url, json={"kind": "discarded", "quantity": 3, "note": "Dropped"}, headers=headers
    )
    assert discarded.status_code == 201, discarded.text
    assert (discarded.json()["quantity"], discarded.json()["stock_after"]) == (-3, 7)
    returned = client.post(url, json={"kind": "returned", "quantity": 2}, headers=headers).json()
    adjusted = client.post(
        url, json={"kind": "adjusted", "quantity": -5, "note": "Stock-take"}, headers=headers
    ).json()
    assert (returned["stock_after"], adjusted["stock_after"]) == (5, 0)
    assert movements(db, stock.lot_a) == [
        ("received", 10),
        ("discarded", -3),
        ("returned", -2),
        ("adjusted", -5),
    ]
    audited = db.scalars(select(AuditEvent).where(AuditEvent.action == "inventory.stock.moved")).all()
    assert [e.details["kind"] for e in audited] == ["discarded", "returned", "adjusted"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"kind": "discarded", "quantity": 11}, 409, "insufficient-stock", "quantity"),
        ({"kind": "adjusted", "quantity": -11, "note": "Stock-take"}, 409, "insufficient-stock", "quantity"),
        ({"kind": "adjusted", "quantity": 2}, 422, "note-required", "note"),
        ({"kind": "adjusted", "quantity": 0, "note": "nothing"}, 422, "invalid-quantity", "quantity"),
        ({"kind": "discarded", "quantity": -1}, 422, "invalid-quantity", "quantity"),
        ({"kind": "used", "quantity": 1}, 422, "invalid-input", "kind"),
        ({"kind": "received", "quantity": 1}, 422, "invalid-input", "kind"),
    ],
)
def test_it_refuses_a_movement_that_would_break_the_count_and_changes_nothing(
    client: TestClient,
    world: World,
    db: Session,
    stock: Stock,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    response = client.post(
        f"/api/v1/lots/{stock.lot_a}/movements", json=body, headers=bearer(client, world.clinician)
    )
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (status, code, field)
    assert movements(db, stock.lot_a) == [("received", 10)]


def test_movements_on_a_lot_outside_the_callers_reach_are_refused(
    client: TestClient, world: World, db: Session, stock: Stock
) -> None:
    body = {"kind": "discarded", "quantity": 1}
    assert (
        client.post(
            f"/api/v1/lots/{stock.lot_b}/movements", json=body, headers=bearer(client, world.clinician)
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/lots/{stock.lot_a}/movements", json=body, headers=bearer(client, world.receptionist)
        ).status_code
        == 403
    )
    assert movements(db, stock.lot_a) == [("received", 10)]


# --- recalls --------------------------------------------------------------------------------------------


def test_a_lot_is_recalled_once(client: TestClient, world: World, db: Session, stock: Stock) -> None:
    headers = bearer(client, world.clinician)
    url = f"/api/v1/lots/{stock.lot_a}/recall"
    response = client.post(url, json={"reason": "Manufacturer recall: particulate matter"}, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["stock"]) == ("recalled", 10)
    first = db.get_one(Lot, stock.lot_a).recalled_at
    again = client.post(url, json={"reason": "again"}, headers=headers)
    assert (again.status_code, again.json()["code"]) == (409, "lot-already-recalled")
    db.rollback()
    recalled = db.get_one(Lot, stock.lot_a)
    assert (recalled.recalled_at, recalled.recall_reason) == (
        first,
        "Manufacturer recall: particulate matter",
    )
    event_ = db.scalars(select(AuditEvent).where(AuditEvent.action == "inventory.lot.recalled")).one()
    assert "particulate" not in str(event_.details)
    assert (
        client.post(f"/api/v1/lots/{stock.lot_b}/recall", json={"reason": "x"}, headers=headers).status_code
        == 404
    )


@pytest.fixture
def statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL the app sends while a test runs (to check how many queries a read takes)."""
    engine = client.app.state.session_factory.kw["bind"]  # type: ignore[attr-defined]
    seen: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    yield seen
    event.remove(engine, "before_cursor_execute", remember)


def test_the_recall_query_lists_every_recipient_in_one_query(
    client: TestClient, world: World, db: Session, stock: Stock, treated: Treated, statements: list[str]
) -> None:
    headers = bearer(client, world.clinician)
    statements.clear()
    response = client.get(f"/api/v1/lots/{stock.lot_a}/recipients", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["lot_number"], body["patient_count"]) == ("HA-2026-001", 2)
    sessions = {s["session_id"]: s for s in body["sessions"]}
    assert list(sessions) == [treated.ada_session, treated.mary_session]  # oldest first
    ada, mary = sessions[treated.ada_session], sessions[treated.mary_session]
    assert (ada["patient_id"], ada["patient_name"], ada["practitioner_name"]) == (
        world.patient_a,
        "Ada Lovelace",
        "Clinician",
    )
    assert ada["zones"] == [
        {"zone": "forehead", "side": "M", "total_volume_ml": 0.4},
        {"zone": "cheek", "side": "L", "total_volume_ml": 0.4},
    ]
    assert (ada["total_volume_ml"], ada["units_used"]) == (0.8, 1)
    assert (mary["patient_id"], mary["zones"], mary["units_used"]) == (world.other_patient_a, [], 2)
    assert (ada["session_date"], ada["session_status"]) == (str(today() - timedelta(days=20)), "in_progress")
    touching_sessions = [s for s in statements if "treatment_session" in s]
    assert len(touching_sessions) == 1
    read = db.scalars(select(AuditEvent).where(AuditEvent.action == "inventory.recall.read")).one()
    assert read.details == {
        "patient_ids": sorted([world.patient_a, world.other_patient_a]),
        "session_ids": [treated.ada_session, treated.mary_session],
    }


def test_the_recall_query_is_for_the_lots_clinic_staff_only(
    client: TestClient, world: World, stock: Stock, treated: Treated
) -> None:
    url = f"/api/v1/lots/{stock.lot_a}/recipients"
    assert client.get(url, headers=bearer(client, world.colleague)).status_code == 404
    assert client.get(url, headers=bearer(client, world.patient_user)).status_code == 403
    owner = client.get(f"/api/v1/lots/{stock.lot_b}/recipients", headers=bearer(client, world.admin)).json()
    assert [s["session_id"] for s in owner["sessions"]] == [treated.emmy_session]
    unused = client.get(
        f"/api/v1/lots/{stock.expired_a}/recipients", headers=bearer(client, world.receptionist)
    )
    assert (unused.json()["patient_count"], unused.json()["sessions"]) == (0, [])


# --- the gate and stock use other domains call -----------------------------------------------------------


def test_the_lot_gate_refuses_expired_recalled_and_foreign_lots(
    world: World, db: Session, stock: Stock
) -> None:
    clinician = principal(db, world.clinician)
    assert require_usable_lot(db, clinician, stock.lot_a, world.clinic_a, today()).id == stock.lot_a
    assert (
        require_usable_lot(db, clinician, stock.expired_a, world.clinic_a, today() - timedelta(days=1)).id
        == stock.expired_a
    )
    with pytest.raises(Conflict, match="expired on") as expired:
        require_usable_lot(db, clinician, stock.expired_a, world.clinic_a, today())
    assert (expired.value.code, expired.value.field) == ("lot-expired", "lot_id")
    with pytest.raises(Conflict, match="recalled on") as recalled:
        require_usable_lot(db, clinician, stock.recalled_a, world.clinic_a, today())
    assert recalled.value.code == "lot-recalled"
    with pytest.raises(NotFound):
        require_usable_lot(db, clinician, stock.lot_b, world.clinic_a, today())
    owner = principal(db, world.admin)
    with pytest.raises(NotFound):  # a lot of clinic B is not usable at clinic A, even for their admin
        require_usable_lot(db, owner, stock.lot_b, world.clinic_a, today())


def test_using_stock_in_a_session_is_recorded_against_the_session(
    world: World, db: Session, stock: Stock, treated: Treated
) -> None:
    clinician = principal(db, world.clinician)
    lot_a = require_usable_lot(db, clinician, stock.lot_a, world.clinic_a, today())
    movement = record_use(db, clinician, lot_a, 4, treated.unrelated_session)
    assert (movement.kind, movement.quantity, movement.session_id) == ("used", -4, treated.unrelated_session)
    used = db.scalars(select(AuditEvent).where(AuditEvent.action == "inventory.stock.used")).one()
    assert (used.patient_id, used.details["session_id"]) == (world.patient_a, treated.unrelated_session)
    with pytest.raises(Conflict, match="3 unit") as short:  # 10 received, 1 + 2 used by the fixture, 4 now
        record_use(db, clinician, lot_a, 4, treated.unrelated_session)
    assert short.value.code == "insufficient-stock"
    with pytest.raises(NotFound):  # clinic B's session
        record_use(db, principal(db, world.admin), lot_a, 1, treated.emmy_session)
