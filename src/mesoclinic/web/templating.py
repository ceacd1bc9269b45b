"""One rendering helper so every page gets the caller, the CSRF token and the same layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    values: dict[str, Any] = {
        "principal": principal,
        "csrf_token": principal.csrf_token if principal is not None else "",
    }
    values.update(context or {})
    return TEMPLATES.TemplateResponse(request, template, values, status_code=status_code)
