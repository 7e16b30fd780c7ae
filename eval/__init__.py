"""Omne's evaluations (installed as `omne_eval`)."""
