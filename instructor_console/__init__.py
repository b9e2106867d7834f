"""The instructor console (PySide6): session set-up, live control, review and audit.

It talks to runs only through protocol commands and events.
"""
