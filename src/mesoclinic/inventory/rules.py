"""Lots and stock as pure decisions: may a lot be used today, and what does a movement do to stock.

Why lots matter: outbreaks of injection-site mycobacterial infection after mesotherapy have been
traced to particular products and multi-dose vials (17 of 77 patients linked to multi-dose vials:
https://www.actasdermo.org/index.php?p=doi-resolver&doi=10.1016/j.eimc.2011.03.006), so every
injection records its product, vial type and lot, and a recall must find every recipient.

Stock is counted in whole units (vials, syringes, tubes) as the sum of signed movements.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

LotProblem = Literal["lot-expired", "lot-recalled"]
LotState = Literal["usable", "expiring_soon", "expired", "recalled"]
MovementKind = Literal["received", "used", "discarded", "adjusted", "returned"]
ProductCategory = Literal["injectable", "topical_anaesthetic"]
VialType = Literal["single_dose", "multi_dose", "not_applicable"]

INSUFFICIENT_STOCK = "insufficient-stock"
#: Movements that take units out of stock (stored negative).
OUTGOING: frozenset[MovementKind] = frozenset({"used", "discarded", "returned"})
#: A lot is flagged this many days before it expires (clinic policy).
DEFAULT_EXPIRY_WARNING_DAYS = 30

MULTI_DOSE_ADVISORY = {
    "code": "multi-dose-vial",
    "reason": (
        "Multi-dose vials have been linked to outbreaks of injection-site mycobacterial infection; "
        "record the lot of every use and prefer single-dose vials."
    ),
    "source": "https://www.actasdermo.org/index.php?p=doi-resolver&doi=10.1016/j.eimc.2011.03.006",
}


class LotLike(Protocol):
    @property
    def expires_on(self) -> date: ...
    @property
    def recalled_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class LotFacts:
    """Plain lot data, for callers (and tests) without a database row."""

    expires_on: date
    recalled_at: datetime | None = None


def lot_problem(lot: LotLike, on_date: date) -> LotProblem | None:
    """Why a lot may not be used on ``on_date``, or None.

    A lot is usable through its expiry date (expired means ``expires_on < on_date``, the usual
    reading of a printed "use by"). A recall wins over expiry: it is the graver reason and the one
    the recall query is about."""
    if lot.recalled_at is not None:
        return "lot-recalled"
    if lot.expires_on < on_date:
        return "lot-expired"
    return None


def lot_state(lot: LotLike, on_date: date, warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS) -> LotState:
    match lot_problem(lot, on_date):
        case "lot-recalled":
            return "recalled"
        case "lot-expired":
            return "expired"
    return "expiring_soon" if lot.expires_on <= on_date + timedelta(days=warning_days) else "usable"


def signed_quantity(kind: MovementKind, quantity: int) -> int:
    """The stored, signed quantity of a movement given as ``quantity`` units.

    ``received`` adds; ``used``, ``discarded`` and ``returned`` (to the supplier) remove, and take
    a positive count; ``adjusted`` (a stock-take correction) takes the signed difference itself."""
    if kind == "adjusted":
        if quantity == 0:
            raise ValueError("an adjustment must change the stock")
        return quantity
    if quantity <= 0:
        raise ValueError(f"a {kind} movement needs a positive number of units")
    return -quantity if kind in OUTGOING else quantity


def stock_level(quantities: Iterable[int]) -> int:
    return sum(quantities)


def movement_problem(stock: int, change: int) -> str | None:
    """Refuse a movement that would leave fewer than zero units: the shelf cannot go negative."""
    return INSUFFICIENT_STOCK if stock + change < 0 else None


def product_problem(category: ProductCategory, vial_type: VialType) -> tuple[str, str] | None:
    """``(field, reason)`` when a product's description does not hold together."""
    if category == "injectable" and vial_type == "not_applicable":
        return ("vial_type", "An injectable comes in single- or multi-dose vials; say which.")
    return None


def advisories(vial_type: str) -> list[dict[str, str]]:
    return [dict(MULTI_DOSE_ADVISORY)] if vial_type == "multi_dose" else []
