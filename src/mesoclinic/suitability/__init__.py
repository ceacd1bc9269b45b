"""The public pre-consultation suitability check (no login; nothing stored without consent)."""
