"""omne_cli."""
