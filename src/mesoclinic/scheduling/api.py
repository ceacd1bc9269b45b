"""REST routes for scheduling (thin: decisions live in rules.py, use cases in service.py)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["scheduling"])
