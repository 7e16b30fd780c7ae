"""Omne's memory server: `omne serve` (REST under /v1, MCP at /mcp), tenants and API keys.

A layer between `omne_core` (the memory it serves) and `omne_cli` (the commands that start it).
"""

from .app import create_app

__all__ = ["create_app"]
