"""Ingredient catalogue, the proposed cocktail per patient, allergy and incompatibility cross-checks,
the decided formulation.
"""
