"""omne_core/models."""
