"""Helpers shared by the definition modules."""
