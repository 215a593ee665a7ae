"""Ingest health and coverage: what was loaded from where, and what is missing."""
