"""Practitioners' qualifications and licences; who may treat today; credentials about to expire."""
