"""Deviations: what is unusual about a session, a principal or an instance against its baseline."""
