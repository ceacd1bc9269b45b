"""Products, lots with expiry, stock movements, refusal of expired or recalled lots, and recalls."""
