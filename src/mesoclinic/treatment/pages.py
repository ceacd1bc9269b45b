"""Server-rendered pages for treatment (thin: rules live in the domain packages)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
