"""The scenario studio's window and its pages."""
