"""Abuse handling: blocked terms, flags on messages and sessions, hiding and removing content."""
