"""Versioned YAML documents that name the file, line and field of every problem.

Scenario files and agency profiles are written by hand, often by an instructor rather than
a programmer, so a problem in one is reported the way a compiler reports a syntax error:
``file:line:column: field: what is wrong. what would be valid``.
"""

from simulator.documents.errors import DocumentError, Problem
from simulator.documents.loading import load_document, parse_document

__all__ = ["DocumentError", "Problem", "load_document", "parse_document"]
