from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from mesoclinic.models import Allergy
from tests.support import World


@pytest.fixture
def lidocaine_allergy(db: Session, world: World) -> None:
    """Patient A is allergic to lidocaine (recorded as a brand name with odd spacing)."""
    db.add(Allergy(patient_id=world.patient_a, substance="  XYLOCAINE ", reaction="urticaria"))
    db.commit()
