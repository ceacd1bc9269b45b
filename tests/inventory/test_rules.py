"""Lot usability and stock arithmetic as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.inventory.rules import (
    LotFacts,
    MovementKind,
    advisories,
    lot_problem,
    lot_state,
    movement_problem,
    product_problem,
    signed_quantity,
    stock_level,
)

TODAY = date(2026, 6, 15)
RECALLED = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_a_lot_is_usable_through_its_expiry_date() -> None:
    assert lot_problem(LotFacts(TODAY), TODAY) is None
    assert lot_problem(LotFacts(TODAY - timedelta(days=1)), TODAY) == "lot-expired"


def test_it_refuses_a_recalled_lot_even_before_expiry() -> None:
    assert lot_problem(LotFacts(TODAY + timedelta(days=300), RECALLED), TODAY) == "lot-recalled"


def test_a_recall_is_reported_over_expiry() -> None:
    assert lot_problem(LotFacts(TODAY - timedelta(days=5), RECALLED), TODAY) == "lot-recalled"


@pytest.mark.parametrize(
    ("expires_in", "recalled", "state"),
    [
        (31, None, "usable"),
        (30, None, "expiring_soon"),
        (0, None, "expiring_soon"),
        (-1, None, "expired"),
        (100, RECALLED, "recalled"),
    ],
)
def test_lot_state(expires_in: int, recalled: datetime | None, state: str) -> None:
    assert lot_state(LotFacts(TODAY + timedelta(days=expires_in), recalled), TODAY) == state


@given(st.integers(min_value=-1000, max_value=1000), st.booleans())
def test_a_lot_is_refused_exactly_when_expired_or_recalled(offset: int, recalled: bool) -> None:
    lot = LotFacts(TODAY + timedelta(days=offset), RECALLED if recalled else None)
    problem = lot_problem(lot, TODAY)
    assert (problem is None) == (offset >= 0 and not recalled)
    assert (lot_state(lot, TODAY) in {"usable", "expiring_soon"}) == (problem is None)


@pytest.mark.parametrize(
    ("kind", "quantity", "signed"),
    [("received", 10, 10), ("used", 2, -2), ("discarded", 1, -1), ("returned", 5, -5), ("adjusted", -3, -3)],
)
def test_movements_are_stored_signed(kind: MovementKind, quantity: int, signed: int) -> None:
    assert signed_quantity(kind, quantity) == signed


@pytest.mark.parametrize(
    ("kind", "quantity"), [("received", 0), ("used", -1), ("discarded", 0), ("returned", -2), ("adjusted", 0)]
)
def test_it_refuses_movements_that_change_nothing_or_point_the_wrong_way(
    kind: MovementKind, quantity: int
) -> None:
    with pytest.raises(ValueError, match="movement|adjustment"):
        signed_quantity(kind, quantity)


def test_stock_may_reach_zero_but_not_below() -> None:
    assert movement_problem(3, -3) is None
    assert movement_problem(3, -4) == "insufficient-stock"
    assert movement_problem(0, 2) is None


movements = st.lists(
    st.tuples(
        st.sampled_from(["received", "used", "discarded", "returned", "adjusted"]),
        st.integers(min_value=-20, max_value=20),
    ),
    max_size=40,
)


@given(movements)
def test_accepting_only_allowed_movements_keeps_stock_the_sum_and_never_negative(
    attempts: list[tuple[MovementKind, int]],
) -> None:
    accepted: list[int] = []
    for kind, quantity in attempts:
        try:
            change = signed_quantity(kind, quantity)
        except ValueError:
            continue
        if movement_problem(stock_level(accepted), change) is None:
            accepted.append(change)
        assert stock_level(accepted) >= 0
    assert stock_level(accepted) == sum(accepted)


def test_an_injectable_must_name_its_vial_type() -> None:
    assert product_problem("injectable", "not_applicable") == (
        "vial_type",
        "An injectable comes in single- or multi-dose vials; say which.",
    )
    assert product_problem("injectable", "multi_dose") is None
    assert product_problem("topical_anaesthetic", "not_applicable") is None


def test_multi_dose_vials_carry_a_sourced_advisory() -> None:
    (advice,) = advisories("multi_dose")
    assert advice["code"] == "multi-dose-vial"
    assert advice["source"].startswith("https://www.actasdermo.org/")
    assert advisories("single_dose") == []
