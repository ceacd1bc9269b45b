"""Accounts, roles, passwords, browser sessions, API tokens, second factor and permissions."""
