"""Server-rendered pages for consultation (thin: rules live in the domain packages)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
