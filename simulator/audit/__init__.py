"""Bias-audit reporting: force decisions by the depicted person's demographics, honestly.

The trial table (one row per trainee response to a scored cue) is folded from the record or
imported from CSV; the statistics run on it with scipy and statsmodels. No Qt.
"""
