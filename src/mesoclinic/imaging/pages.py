"""Photo pages: capture with the previous visit's ghost, quality feedback, analysis, and the aligned
before/after with a slider and per-zone changes. Every decision is ``imaging.service``'s."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
