"""A typed name drawn as a signature: the drawing the consent rules accept and store unchanged."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mesoclinic.consent.rules import check_signature
from mesoclinic.consent.typed_signature import FRAME_HEIGHT, FRAME_WIDTH, typed_signature

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@pytest.mark.parametrize(
    "name", ["Ada Lovelace", "José-María O’Neil", "Zoë Ødegård", "李 小龍", "Dr. Mary Somerville"]
)
def test_a_typed_name_is_drawn_as_a_signature_the_consent_rules_store_unchanged(name: str) -> None:
    path = typed_signature(name)
    checked = check_signature(path)
    assert checked.problem is None
    assert checked.canonical == path  # what is stored is exactly the drawing: it can be recognised


@given(st.text(alphabet=st.characters(categories=["L", "Zs", "Pd", "Po"]), max_size=200))
def test_any_name_with_two_letters_is_accepted_and_drawn_inside_the_pad(name: str) -> None:
    assume(sum(c.isalpha() for c in name) >= 2)
    path = typed_signature(name)
    assert check_signature(path).problem is None
    numbers = [float(n) for n in NUMBER.findall(path)]
    assert all(0 <= x <= FRAME_WIDTH for x in numbers[0::2])
    assert all(0 <= y <= FRAME_HEIGHT for y in numbers[1::2])


def test_the_drawing_depends_on_the_name_only_not_on_spacing_or_case() -> None:
    assert typed_signature("ada   lovelace ") == typed_signature("Ada Lovelace")
    assert typed_signature("Ada Lovelace") != typed_signature("Ada Byron")
    assert typed_signature("   ") == ""
