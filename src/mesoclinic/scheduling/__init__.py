"""Rooms, hours, appointments with no double booking, course slot search, calendar feeds."""
