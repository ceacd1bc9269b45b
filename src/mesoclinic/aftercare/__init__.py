"""Aftercare instructions, scheduled check-ins, expected symptom windows, escalation of red flags,
adverse events.
"""
