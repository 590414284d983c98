"""Operators' corrections of sightings, and what the matcher learns from them (issue 14)."""
