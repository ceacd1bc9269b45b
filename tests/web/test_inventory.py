"""The inventory page: lots with expiry warnings, receiving a delivery, recalling a lot."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mesoclinic.models import Lot
from mesoclinic.settings import Settings
from tests.support import World
from tests.treatment.helpers import clinic_today, create_product
from tests.web.conftest import HTML, Treated, post_form, sign_in, text


def lots(db: Session) -> int:
    db.rollback()
    return int(db.scalar(select(func.count()).select_from(Lot)) or 0)


def test_a_lot_expired_before_delivery_is_refused_next_to_its_expiry_with_the_form_kept(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str]
) -> None:
    product = create_product(client, clinician, world.clinic_a)
    csrf = sign_in(client, db, settings, world.clinician)
    fields = {
        "product_id": str(product["id"]),
        "lot_number": "OLD-7",
        "expires_on": (clinic_today() - timedelta(days=1)).isoformat(),
        "quantity": "5",
    }
    refused = post_form(client, "/inventory/lots", csrf, **fields)
    assert refused.status_code == 422
    assert 'id="expires_on-error"' in refused.text
    assert 'value="OLD-7"' in refused.text
    assert lots(db) == 0
    fields["expires_on"] = (clinic_today() + timedelta(days=20)).isoformat()
    received = post_form(client, "/inventory/lots", csrf, **fields)
    assert received.status_code == 303
    assert lots(db) == 1
    page = text(client.get("/inventory", headers=HTML).text)
    assert "OLD-7" in page
    assert "expiring soon" in page


def test_the_front_desk_sees_stock_but_no_forms(
    client: TestClient, db: Session, settings: Settings, world: World, clinician: dict[str, str]
) -> None:
    product = create_product(client, clinician, world.clinic_a)
    csrf = sign_in(client, db, settings, world.receptionist)
    page = client.get("/inventory", headers=HTML)
    assert page.status_code == 200
    assert "Receive a delivery" not in page.text
    fields = {
        "product_id": str(product["id"]),
        "lot_number": "X1",
        "expires_on": "2099-01-01",
        "quantity": "1",
    }
    assert post_form(client, "/inventory/lots", csrf, **fields).status_code == 403
    assert lots(db) == 0


def test_a_recall_needs_a_reason_then_lists_who_received_the_lot(
    client: TestClient, db: Session, settings: Settings, world: World, treated: Treated
) -> None:
    lot_id = treated.ready.lot_id
    csrf = sign_in(client, db, settings, world.admin)
    refused = post_form(client, f"/inventory/lots/{lot_id}/recall", csrf, reason="  ")
    assert refused.status_code == 422
    assert f'id="reason-{lot_id}-error"' in refused.text
    db.rollback()
    assert db.get_one(Lot, lot_id).recalled_at is None
    recalled = post_form(client, f"/inventory/lots/{lot_id}/recall", csrf, reason="Supplier notice 12")
    assert (recalled.status_code, recalled.headers["location"]) == (
        303,
        f"/inventory/lots/{lot_id}/recipients",
    )
    page = text(client.get(recalled.headers["location"], headers=HTML).text)
    assert "1 patient received this lot in 1 session" in page
    assert "Ada Lovelace" in page
    again = post_form(client, f"/inventory/lots/{lot_id}/recall", csrf, reason="Supplier notice 12")
    assert again.status_code == 409
    assert "already recalled" in again.text


def test_another_clinic_cannot_see_the_recipients(
    client: TestClient, db: Session, settings: Settings, world: World, treated: Treated
) -> None:
    sign_in(client, db, settings, world.colleague)
    assert client.get(f"/inventory/lots/{treated.ready.lot_id}/recipients", headers=HTML).status_code == 404
