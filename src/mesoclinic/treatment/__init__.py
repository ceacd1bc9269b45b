"""The session record: enforced checklist, injections per zone (face chart), lots used, pain, sign-off,
amendments.
"""
