"""Domain errors and their one rendering: RFC 9457 problem documents.

Every refusal the application makes is a ``MesoClinicError`` subclass carrying its HTTP status, a
stable ``code`` (the rule or field it is about) and a plain-language detail. The handler in
``app.py`` turns it into ``application/problem+json`` for the API and an HTML page for browsers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

PROBLEM_BASE = "https://mesoclinic.org/problems/"


@dataclass(frozen=True)
class Refusal:
    """What a refused attempt was after, so the error handler can audit it as denied."""

    action: str
    target_type: str = ""
    target_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class MesoClinicError(Exception):
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    default_code: ClassVar[str] = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        refusal: Refusal | None = None,
    ) -> None:
        super().__init__(detail)
        self.refusal = refusal
        self.detail = detail
        self.code = code or self.default_code
        self.field = field
        self.extra = extra or {}

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.field:
            body["field"] = self.field
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class ConfigurationError(RuntimeError):
    """The operator's configuration is unusable; raised at start-up, never to a client."""


class InvalidInput(MesoClinicError):
    status = 422
    title = "Invalid input"
    default_code = "invalid-input"


class NotAuthenticated(MesoClinicError):
    status = 401
    title = "Authentication required"
    default_code = "not-authenticated"


class Forbidden(MesoClinicError):
    status = 403
    title = "Forbidden"
    default_code = "forbidden"


class NotFound(MesoClinicError):
    """Also used for records the caller may not see, so existence never leaks."""

    status = 404
    title = "Not found"
    default_code = "not-found"


class Conflict(MesoClinicError):
    status = 409
    title = "Conflict"
    default_code = "conflict"


class TooManyAttempts(MesoClinicError):
    status = 429
    title = "Too many attempts"
    default_code = "too-many-attempts"


class PayloadTooLarge(MesoClinicError):
    status = 413
    title = "Payload too large"
    default_code = "payload-too-large"
