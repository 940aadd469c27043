"""Benchmarks, run by hand (never a CI gate): `python -m bench`; the latest figures are in README.md here."""
