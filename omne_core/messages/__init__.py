"""omne_core/messages."""
