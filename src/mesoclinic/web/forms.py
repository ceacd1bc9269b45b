"""Helpers every HTML form shares: a service refusal shown next to the field it names."""

from __future__ import annotations

from mesoclinic.errors import MesoClinicError


def refusal_errors(error: MesoClinicError) -> dict[str, str]:
    """A service refusal as ``{field: detail}`` (``form`` when it names no field)."""
    return {(error.field or "form"): error.detail}
