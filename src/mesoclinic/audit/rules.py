"""How an audit row's hash is computed and how a chain is judged: pure, no I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

#: The fields a row's hash covers, in a fixed order; ``id`` is not among them (it is assigned by
#: the database after the hash) but order is protected because each row names its predecessor.
HASHED_FIELDS = (
    "occurred_at",
    "actor_user_id",
    "actor",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "patient_id",
    "clinic_id",
    "ip",
    "user_agent",
    "details",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def row_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    payload = {name: _canonical(fields[name]) for name in HASHED_FIELDS}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + text).encode()).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    row_id: int
    reason: str


def first_break(rows: Iterable[tuple[int, str, str, Mapping[str, Any]]]) -> ChainBreak | None:
    """Walk ``(id, prev_hash, row_hash, fields)`` in id order; return the first tampered row."""
    expected_prev = GENESIS_HASH
    for row_id, prev_hash, stored_hash, fields in rows:
        if prev_hash != expected_prev:
            return ChainBreak(row_id, "previous-hash link broken (a row was removed or reordered)")
        if row_hash(prev_hash, fields) != stored_hash:
            return ChainBreak(row_id, "row content does not match its hash (the row was altered)")
        expected_prev = stored_hash
    return None
