"""Typed errors of the model layer."""

from __future__ import annotations

from ..errors import ConfigurationError, ModelError

__all__ = ["ModelConfigurationError", "ModelError", "ModelUnavailableError"]


class ModelConfigurationError(ConfigurationError, ModelError):
    """The settings do not describe a usable model (missing key, endpoint, file or field)."""


class ModelUnavailableError(ModelError, RuntimeError):
    """The model cannot run here: an optional dependency (the `local` extra) is not installed."""
