"""Pivots: access keys, IP addresses and resources, and the search across entities."""
