"""omne_core/documents."""
