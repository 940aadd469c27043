"""Across incidents: statistics and search."""
