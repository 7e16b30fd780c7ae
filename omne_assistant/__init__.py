"""omne_assistant."""
