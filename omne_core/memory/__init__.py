"""omne_core/memory."""
