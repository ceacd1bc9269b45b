"""Pure decisions about a patient's history: what a declared item adds, which dates are wrong."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar

from mesoclinic.screening.ruleset import normalise_name


class _Allergy(Protocol):
    @property
    def substance(self) -> str: ...


class _Medication(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def drug_class(self) -> str: ...
    @property
    def started_on(self) -> date | None: ...
    @property
    def stopped_on(self) -> date | None: ...


class _Procedure(Protocol):
    @property
    def procedure(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def performed_on(self) -> date: ...


Item = TypeVar("Item")


def allergy_key(item: _Allergy) -> tuple[str, ...]:
    return (normalise_name(item.substance),)


def medication_key(item: _Medication) -> tuple[object, ...]:
    return (normalise_name(item.name), item.drug_class, item.started_on, item.stopped_on)


def procedure_key(item: _Procedure) -> tuple[object, ...]:
    return (normalise_name(item.procedure), item.category, item.performed_on)


def not_yet_recorded(
    recorded: Iterable[object], declared: Sequence[Item], key: Callable[[Any], Hashable]
) -> list[Item]:
    """Declared items the record does not already hold (nor repeats within the declaration).

    A patient who fills in a new intake re-declares what they declared last time; appending it
    again would double every allergy and medication on the chart.
    """
    seen = {key(item) for item in recorded}
    fresh = []
    for item in declared:
        k = key(item)
        if k not in seen:
            seen.add(k)
            fresh.append(item)
    return fresh


@dataclass(frozen=True)
class DateProblem:
    field: str
    message: str


def medication_date_problems(medications: Sequence[_Medication], prefix: str) -> list[DateProblem]:
    """A medication cannot stop before it started."""
    return [
        DateProblem(f"{prefix}.{index}.stopped_on", "A medication cannot stop before it started.")
        for index, m in enumerate(medications)
        if m.started_on is not None and m.stopped_on is not None and m.stopped_on < m.started_on
    ]
