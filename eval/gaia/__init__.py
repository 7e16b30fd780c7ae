"""eval/gaia."""
