"""Typed errors of the model layer."""

from __future__ import annotations


class ModelConfigurationError(ValueError):
    """The settings do not describe a usable model (missing key, endpoint, file or field)."""


class ModelUnavailableError(RuntimeError):
    """The model cannot run here: an optional dependency (the `local` extra) is not installed."""
