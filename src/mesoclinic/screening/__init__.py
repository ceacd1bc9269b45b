"""Contraindication screening: pure rules over the intake, stored results, practitioner overrides."""
