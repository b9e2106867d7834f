"""The use cases people start, each with its role check and access-log line.

The one layer under every front end: the command line, the console on the projector PC and
the remote console all go through it.
"""
