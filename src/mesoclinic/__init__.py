"""MesoClinic: a clinical platform for facial mesotherapy clinics."""

__version__ = "0.1.0"
