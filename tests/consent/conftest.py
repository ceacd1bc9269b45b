"""Shared arrangements for consent tests: published default texts and a valid signature."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.audit.service import SYSTEM_ACTOR
from mesoclinic.consent.service import publish_default_texts
from mesoclinic.models import User
from tests.support import World

SIGNATURE = "M 12 40 C 20 10 35 10 40 40 L 55 25 Q 70 5 90 38 L 120 30"


@dataclass(frozen=True)
class Texts:
    """Version 1 of each default text at clinic A, and clinic B's treatment text."""

    treatment_a: int
    photo_a: int
    marketing_a: int
    treatment_b: int


def user_id(db: Session, email: str) -> int:
    return db.scalars(select(User.id).where(User.email == email)).one()


@pytest.fixture
def texts(db: Session, world: World) -> Texts:
    owner = user_id(db, world.admin)
    at_a = {t.kind: t.id for t in publish_default_texts(db, SYSTEM_ACTOR, world.clinic_a, owner)}
    at_b = {t.kind: t.id for t in publish_default_texts(db, SYSTEM_ACTOR, world.clinic_b, owner)}
    db.commit()
    return Texts(at_a["treatment"], at_a["photo"], at_a["marketing"], at_b["treatment"])


def signing(text_id: int, typed_name: str = "Ada Lovelace", signature: str = SIGNATURE) -> dict[str, object]:
    return {"consent_text_id": text_id, "typed_name": typed_name, "signature_svg_path": signature}
