"""Branchpoint's simulator: scenarios, the runtime that plays them, and the session record.

Everything here runs without a screen; only ``simulator.projector`` and
``simulator.playback`` (when present) may load Qt or libvlc.
"""
