"""Patients: demographics, contact, history (allergies, medications, previous procedures)."""
