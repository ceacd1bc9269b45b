"""Skin assessment: concerns per facial zone graded on standard scales (Glogau, WSRS, Merz, Goodman &
Baron, MASI/mMASI, VAS).
"""
