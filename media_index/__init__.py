"""The media index: the clips an agency owns, what is in them, and who is shown.

It keeps its own tables in the record's database and imports nothing of the simulator.
"""
