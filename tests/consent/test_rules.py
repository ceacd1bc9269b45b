"""Consent validity, typed names and drawn signatures as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.auth.rules import Permission
from mesoclinic.consent.rules import (
    MAX_SIGNATURE_CHARS,
    Signed,
    check_signature,
    consent_decision,
    normalise_name,
    typed_name_matches,
    witness_permission,
)
from mesoclinic.consent.service import default_texts

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SIGNATURE = "M 10 10 L 40 30 Q 60 50 80 30 C 90 20 100 40 120 35"


# --- validity --------------------------------------------------------------------------------


def test_without_a_published_text_there_is_no_valid_consent() -> None:
    decision = consent_decision([Signed(1, 7, NOW - HOUR)], None, NOW)
    assert (decision.state, decision.valid) == ("no_text", False)


def test_without_a_signature_consent_is_missing() -> None:
    decision = consent_decision([], 7, NOW)
    assert (decision.state, decision.record_id) == ("none", None)
    assert "has not signed" in decision.reason


def test_a_signature_on_the_current_version_is_valid() -> None:
    decision = consent_decision([Signed(1, 7, NOW - HOUR)], 7, NOW)
    assert (decision.state, decision.record_id, decision.valid) == ("valid", 1, True)


def test_a_signature_on_an_earlier_version_is_superseded() -> None:
    decision = consent_decision([Signed(1, 6, NOW - HOUR)], 7, NOW)
    assert (decision.state, decision.record_id) == ("superseded", 1)
    assert "earlier version" in decision.reason


def test_a_withdrawn_signature_no_longer_counts() -> None:
    decision = consent_decision([Signed(1, 7, NOW - 2 * HOUR, withdrawn_at=NOW - HOUR)], 7, NOW)
    assert (decision.state, decision.record_id) == ("withdrawn", 1)
    assert "withdrew" in decision.reason


def test_a_withdrawal_counts_only_from_when_it_happened() -> None:
    signed = [Signed(1, 7, NOW - 2 * HOUR, withdrawn_at=NOW + HOUR)]
    assert consent_decision(signed, 7, NOW).valid
    assert consent_decision(signed, 7, NOW + 2 * HOUR).state == "withdrawn"


def test_a_signature_made_after_the_moment_asked_about_does_not_count() -> None:
    assert consent_decision([Signed(1, 7, NOW + HOUR)], 7, NOW).state == "none"


def test_signing_again_after_a_withdrawal_consents_again() -> None:
    signed = [Signed(1, 7, NOW - 3 * HOUR, withdrawn_at=NOW - 2 * HOUR), Signed(2, 7, NOW - HOUR)]
    decision = consent_decision(signed, 7, NOW)
    assert (decision.state, decision.record_id) == ("valid", 2)


def test_treatment_consent_needs_a_clinician_witness_and_the_others_the_front_desk() -> None:
    assert witness_permission("treatment") is Permission.CLINICAL_WRITE
    assert witness_permission("photo") is Permission.PATIENT_WRITE
    assert witness_permission("marketing") is Permission.PATIENT_WRITE


signatures = st.lists(
    st.builds(
        Signed,
        id=st.integers(min_value=1, max_value=50),
        consent_text_id=st.integers(min_value=1, max_value=3),
        signed_at=st.integers(min_value=-100, max_value=100).map(lambda h: NOW + h * HOUR),
        withdrawn_at=st.none() | st.integers(min_value=-100, max_value=200).map(lambda h: NOW + h * HOUR),
    ),
    max_size=6,
    unique_by=lambda signature: signature.id,  # ids are primary keys
)


@given(signatures, st.integers(min_value=1, max_value=3))
def test_valid_consent_always_rests_on_an_unwithdrawn_signature_of_the_current_version(
    signed: list[Signed], current: int
) -> None:
    decision = consent_decision(signed, current, NOW)
    if decision.valid:
        record = next(s for s in signed if s.id == decision.record_id and s.consent_text_id == current)
        assert record.signed_at <= NOW
        assert record.withdrawn_at is None or record.withdrawn_at > NOW
    else:
        assert decision.state in {"none", "withdrawn", "superseded"}
        on_current = [s for s in signed if s.consent_text_id == current and s.signed_at <= NOW]
        if not on_current:
            assert decision.state != "withdrawn"


# --- typed names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["Ada Lovelace", "ada lovelace", "  ADA   LOVELACE ", "Lovelace Ada", "Lovelace, Ada", "Ádá Lóvelace"],
)
def test_a_typed_name_matches_regardless_of_case_accents_spacing_and_order(typed: str) -> None:
    assert typed_name_matches(typed, "Ada", "Lovelace")


@pytest.mark.parametrize(
    "typed", ["", " ", "Ada", "Ada Byron", "Ada Lovelace King", "A. Lovelace", "Mary Somerville"]
)
def test_a_typed_name_must_be_the_patients_full_name(typed: str) -> None:
    assert not typed_name_matches(typed, "Ada", "Lovelace")


def test_hyphens_and_apostrophes_do_not_matter() -> None:
    assert typed_name_matches("Mary Jane O'Neil", "Mary-Jane", "O'Neil")
    assert typed_name_matches("mary jane o neil", "Mary-Jane", "O’Neil")
    assert normalise_name("José-María") == "jose maria"


# --- drawn signatures ---------------------------------------------------------------------------


def test_it_accepts_a_signature_pad_path_and_stores_a_canonical_form() -> None:
    check = check_signature("M10,10 L40.50,30L 60 50 C 70 60, 80 70, 90 60 Z")
    assert check.problem is None
    assert check.canonical == "M 10 10 L 40.5 30 L 60 50 C 70 60 80 70 90 60 Z"
    assert check.segments == 3


def test_extra_pairs_after_a_move_are_drawn_lines() -> None:
    check = check_signature("M 0 0 30 0 30 30 0 30")
    assert (check.problem, check.segments) == (None, 3)


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ('<path d="M 0 0"/>', "only M, L, Q, C, Z"),
        ("M 0 0 L 10 10 <script>alert(1)</script>", "only M, L, Q, C, Z"),
        ("M 0 0 A 5 5 0 0 1 10 10 L 20 20 L 30 30", "only M, L, Q, C, Z"),
        ("M 0 0 l 10 10 l 10 10 l 10 10", "only M, L, Q, C, Z"),
        ("M 0 0 L 1e3 10 L 20 20 L 30 30", "only M, L, Q, C, Z"),
        ("L 0 0 L 10 10 L 20 20 L 30 30", "start with a move"),
        ("", "start with a move"),
        ("M 0 0 L 10", "groups of 2"),
        ("M 0 0 Q 10 10 20", "groups of 4"),
        ("M 0 0 C 1 2 3 4 5", "groups of 6"),
        ("M 0 0 L 10 10 Z 5 L 20 20 L 30 30", "Z takes no numbers"),
        ("M 0 0 L 10 10 L 20 20", "at least 3"),
        ("M 0 0 L 1 1 L 2 2 L 3 3 L 4 4", "too small"),
        ("M 0 0 L 10 10 L 20 20 L 99999 30", "between"),
        ("M 0 0 L -500 10 L 20 20 L 30 30", "between"),
        ("M 0 0 L " + "9" * 400 + " 10 L 20 20 L 30 30", "between"),
    ],
)
def test_it_refuses_anything_but_a_bounded_path(path: str, fragment: str) -> None:
    check = check_signature(path)
    assert check.problem is not None
    assert fragment in check.problem
    assert check.canonical == ""


def test_it_refuses_overlong_signatures() -> None:
    long_path = "M 0 0" + " L 100 100 L 0 0" * 2000
    assert len(long_path) > MAX_SIGNATURE_CHARS
    assert "longer than" in (check_signature(long_path).problem or "")


points = st.tuples(st.integers(min_value=0, max_value=4000), st.integers(min_value=0, max_value=4000))


@given(st.lists(points, min_size=4, max_size=60))
def test_a_polyline_in_the_box_is_accepted_and_its_canonical_form_is_stable(
    pts: list[tuple[int, int]],
) -> None:
    path = "M " + " L ".join(f"{x} {y}" for x, y in pts)
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    check = check_signature(path)
    if max(max(xs) - min(xs), max(ys) - min(ys)) < 10:
        assert check.problem is not None
    else:
        assert check.problem is None
        assert check_signature(check.canonical).canonical == check.canonical
        assert set(check.canonical) <= set("MLQCZ0123456789.- ")


@given(st.text(max_size=200))
def test_whatever_is_accepted_contains_only_path_characters(text: str) -> None:
    check = check_signature(text)
    if check.problem is None:
        assert set(check.canonical) <= set("MLQCZ0123456789.- ")


# --- default texts --------------------------------------------------------------------------------


def test_the_default_texts_cover_each_kind_and_every_statement_has_a_source() -> None:
    texts = {t.kind: t for t in default_texts()}
    assert set(texts) == {"treatment", "photo", "marketing"}
    for text in texts.values():
        for section in text.sections:
            for fact in section.facts:
                assert fact.source.strip()
    body = texts["treatment"].body.lower()
    for expected in ("redness", "swelling", "bruising", "not a facelift", "6 months", "breathing", "lump"):
        assert expected in body
