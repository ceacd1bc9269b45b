"""Helpers every HTML form shares: one way to run a form's service call, and a refusal shown next
to the field it names, rolled back and audited exactly as the API does it.

A form page validates what was typed (``validate_form`` for flat forms, or the schema inside the
action), then calls ``attempt``. On success it redirects (303); on a refusal it re-renders the form
with ``errors`` and what was typed, under the refusal's status (422 invalid input, 409 conflict).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from mesoclinic.auth.deps import undo_refused
from mesoclinic.auth.rules import Principal
from mesoclinic.errors import MesoClinicError

T = TypeVar("T")

#: Refusals a form shows next to its fields by default; any other (forbidden, not found) goes to
#: the error page, where the request edge rolls back and audits it.
FORM_STATUSES: frozenset[int] = frozenset({409, 422})
#: For forms that show every refusal on the form itself (the admin and calendar forms).
EVERY_STATUS: frozenset[int] = frozenset(range(400, 600))


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What a form's service call came to: its value, or the errors to re-render the form with."""

    value: T | None = None
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 200

    @property
    def refused(self) -> bool:
        return bool(self.errors)

    @property
    def result(self) -> T:
        """The action's return value (only after a success)."""
        if self.refused:
            raise RuntimeError("the attempt was refused; it has no result")
        return self.value  # type: ignore[return-value]


def attempt(
    db: Session,
    principal: Principal,
    action: Callable[[], T],
    *,
    show: Collection[int] = FORM_STATUSES,
) -> Attempt[T]:
    """Run one form submission's service call(s).

    On a refusal whose status is in ``show`` (and on a schema ``ValidationError``, a 422) the
    request's transaction is rolled back, a refusal that names what was attempted is recorded as a
    denied audit row (``auth.deps.undo_refused``, as for an API refusal), and the field errors come
    back to re-render the form with; the request then commits that row. Other refusals propagate to
    the error page, and the request edge rolls back and audits them."""
    try:
        value = action()
    except ValidationError as error:
        db.rollback()
        return Attempt(errors=validation_errors(error), status=422)
    except MesoClinicError as error:
        if error.status not in show:
            raise
        undo_refused(db, principal.actor, error)
        return Attempt(errors=refusal_errors(error), status=error.status)
    return Attempt(value=value)


def refusal_errors(error: MesoClinicError) -> dict[str, str]:
    """A service refusal as ``{field: detail}`` (``form`` when it names no field)."""
    return {(error.field or "form"): error.detail}


def validation_errors(error: ValidationError) -> dict[str, str]:
    """Schema errors keyed by their dotted field path (``findings.0.value``), first one per field."""
    errors: dict[str, str] = {}
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "form"
        errors.setdefault(loc, str(item["msg"]).removeprefix("Value error, "))
    return errors


def validate_form(
    model: type[BaseModel], values: Mapping[str, Any]
) -> tuple[BaseModel | None, dict[str, str]]:
    """Validate a flat form's fields with the domain's own input schema before any service call.
    Empty optional fields are left out (a blank date means "not given"); errors come back per
    top-level field (``clinic_ids``, not ``clinic_ids.0``), so they sit next to that control."""
    data = {k: v for k, v in values.items() if v not in ("", None)}
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "form"
            errors.setdefault(name, error["msg"])
        return None, errors


def form_values(form: Any) -> dict[str, str]:
    """A submitted form's single-valued text fields, without the CSRF token (to re-render with)."""
    return {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}
