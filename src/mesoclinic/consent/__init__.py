"""Versioned consent texts, signatures (typed name and drawn signature), withdrawal, and whether
consent is valid now.
"""
