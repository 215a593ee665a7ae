"""Benchmarks: `python -m bench.ingest` (`make bench`) prints ingest figures; it asserts nothing."""
