"""REST routes for imaging (thin: decisions live in rules.py and the metric modules)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["imaging"])
