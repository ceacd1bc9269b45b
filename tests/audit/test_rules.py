"""The audit hash chain as pure functions: what tampering it catches, and where it points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from mesoclinic.audit.rules import GENESIS_HASH, HASHED_FIELDS, first_break, row_hash

Row = tuple[int, str, str, dict[str, Any]]

instants = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.just(UTC),
)
optional_ids = st.none() | st.integers(min_value=1, max_value=2**31 - 1)
short_text = st.text(max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | short_text
)
details = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        json_scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    ),
    max_size=4,
)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "occurred_at": instants,
    "actor_user_id": optional_ids,
    "actor": short_text,
    "action": short_text,
    "outcome": st.sampled_from(["success", "denied"]) | short_text,
    "target_type": short_text,
    "target_id": short_text,
    "patient_id": optional_ids,
    "clinic_id": optional_ids,
    "ip": short_text,
    "user_agent": short_text,
    "details": details,
}

events = st.fixed_dictionaries(FIELD_VALUES)


def test_every_hashed_field_has_a_generator() -> None:
    # Keeps the properties below honest if a field is ever added to the hash.
    assert set(FIELD_VALUES) == set(HASHED_FIELDS)


def chain(fields: Sequence[Mapping[str, Any]], first_id: int = 1) -> list[Row]:
    """Rows as ``record`` writes them: each one's hash covers its fields and its predecessor's hash."""
    rows: list[Row] = []
    prev = GENESIS_HASH
    for offset, row_fields in enumerate(fields):
        stored = row_hash(prev, row_fields)
        rows.append((first_id + offset, prev, stored, dict(row_fields)))
        prev = stored
    return rows


@st.composite
def chains(draw: st.DrawFn, min_size: int = 1) -> list[Row]:
    fields = draw(st.lists(events, min_size=min_size, max_size=8))
    # Ids need not be contiguous (a rolled-back insert leaves a gap in the sequence).
    first_id = draw(st.integers(min_value=1, max_value=10**9))
    return chain(fields, first_id)


@given(chains())
def test_an_intact_chain_has_no_break(rows: list[Row]) -> None:
    assert first_break(rows) is None


def test_an_empty_trail_has_no_break() -> None:
    assert first_break([]) is None


@given(chains(), st.data())
def test_changing_any_hashed_field_of_any_row_is_caught_at_that_row(
    rows: list[Row], data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 1), label="row")
    name = data.draw(st.sampled_from(HASHED_FIELDS), label="field")
    row_id, prev, stored, fields = rows[index]
    new_value = data.draw(FIELD_VALUES[name], label="new value")
    # Equal values are no change (aware datetimes compare as instants; 1 == 1.0 == True is skipped).
    assume(new_value != fields[name])
    rows[index] = (row_id, prev, stored, {**fields, name: new_value})

    broken = first_break(rows)

    assert broken is not None
    assert broken.row_id == row_id
    assert "altered" in broken.reason


@given(chains(min_size=2), st.data())
def test_an_altered_row_rehashed_to_hide_it_is_caught_at_the_next_row(
    rows: list[Row], data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 2), label="row")
    row_id, prev, _stored, fields = rows[index]
    forged = {**fields, "actor": fields["actor"] + " (forged)"}
    rows[index] = (row_id, prev, row_hash(prev, forged), forged)

    broken = first_break(rows)

    assert broken is not None
    assert broken.row_id == rows[index + 1][0]
    assert "removed or reordered" in broken.reason


@given(chains(min_size=2), st.data())
def test_removing_a_row_is_caught_at_the_row_that_followed_it(rows: list[Row], data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 2), label="removed row")
    follower_id = rows[index + 1][0]
    del rows[index]

    broken = first_break(rows)

    assert broken is not None
    assert broken.row_id == follower_id
    assert "removed or reordered" in broken.reason


@given(chains(min_size=2), st.data())
def test_swapping_two_rows_is_caught_at_the_first_swapped_position(
    rows: list[Row], data: st.DataObject
) -> None:
    first = data.draw(st.integers(min_value=0, max_value=len(rows) - 2), label="first")
    second = data.draw(st.integers(min_value=first + 1, max_value=len(rows) - 1), label="second")
    ids = [row[0] for row in rows]
    contents = [row[1:] for row in rows]
    contents[first], contents[second] = contents[second], contents[first]
    # The database hands rows back in id order, so a swap means ids now carry each other's content.
    swapped = [(row_id, *content) for row_id, content in zip(ids, contents, strict=True)]

    broken = first_break(swapped)

    assert broken is not None
    assert broken.row_id == ids[first]


@given(chains(min_size=2), st.data())
def test_a_row_whose_stored_link_is_rewritten_is_caught_at_that_row(
    rows: list[Row], data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 1), label="row")
    row_id, _prev, stored, fields = rows[index]
    rows[index] = (row_id, "f" * 64, stored, fields)

    broken = first_break(rows)

    assert broken is not None
    assert broken.row_id == row_id


@given(chains(min_size=2), st.data())
def test_the_chain_alone_cannot_see_the_newest_rows_cut_off(rows: list[Row], data: st.DataObject) -> None:
    # A known limit of any unanchored hash chain: a prefix is itself a valid chain. The event count
    # that ``mesoclinic audit verify`` prints is what an operator compares against a previous run.
    cut = data.draw(st.integers(min_value=1, max_value=len(rows) - 1), label="rows cut")
    assert first_break(rows[:-cut]) is None


@given(
    events,
    st.timezones(),
    st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
def test_the_same_instant_hashes_the_same_in_any_time_zone(
    fields: dict[str, Any], zone: Any, fixed_offset: timezone
) -> None:
    instant: datetime = fields["occurred_at"]
    in_utc = row_hash(GENESIS_HASH, fields)
    assert row_hash(GENESIS_HASH, {**fields, "occurred_at": instant.astimezone(zone)}) == in_utc
    assert row_hash(GENESIS_HASH, {**fields, "occurred_at": instant.astimezone(fixed_offset)}) == in_utc


@given(events, st.integers(min_value=1, max_value=10**6))
def test_a_different_instant_hashes_differently(fields: dict[str, Any], microseconds: int) -> None:
    later = fields["occurred_at"] + timedelta(microseconds=microseconds)
    assert row_hash(GENESIS_HASH, {**fields, "occurred_at": later}) != row_hash(GENESIS_HASH, fields)


@given(events, st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_a_rows_hash_depends_on_its_predecessor(fields: dict[str, Any], other_prev: str) -> None:
    assume(other_prev != GENESIS_HASH)
    assert row_hash(other_prev, fields) != row_hash(GENESIS_HASH, fields)


def test_fields_outside_the_hash_do_not_change_it() -> None:
    fields: dict[str, Any] = {
        "occurred_at": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        "actor_user_id": 3,
        "actor": "clinician@a.example",
        "action": "patient.read",
        "outcome": "success",
        "target_type": "patient",
        "target_id": "1",
        "patient_id": 1,
        "clinic_id": 1,
        "ip": "127.0.0.1",
        "user_agent": "testclient",
        "details": {"fields": ["allergies"]},
    }
    assert row_hash(GENESIS_HASH, {**fields, "id": 99, "row_hash": "x"}) == row_hash(GENESIS_HASH, fields)
