"""Course plans (3–6 sessions, interval windows) and the maintenance plan after a course."""
