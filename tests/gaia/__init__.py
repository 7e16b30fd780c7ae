"""GAIA harness tests."""
