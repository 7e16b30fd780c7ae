"""Typed errors of the GAIA harness: each says what went wrong and what to do about it."""

from __future__ import annotations

from omne_core.errors import OmneError


class GaiaError(OmneError):
    """Base class of every GAIA harness error."""


class GaiaDatasetError(GaiaError):
    """The dataset directory or its metadata is missing or malformed."""


class GaiaHubError(GaiaError):
    """The GAIA dataset could not be fetched from the Hugging Face Hub."""


class GaiaTokenMissingError(GaiaHubError):
    """No Hugging Face token is configured for the gated dataset."""


class GaiaHubUnreachableError(GaiaHubError):
    """The Hub (or the configured HF_ENDPOINT) did not answer."""


class GaiaAccessDeniedError(GaiaHubError):
    """The token was refused: the dataset's conditions are not accepted or the token is invalid."""


class AgentFactoryError(GaiaError):
    """An agent factory could not be found, imported or called."""


class GaiaResultsError(GaiaError):
    """A results or submission file is unreadable."""


class GaiaRunMismatchError(GaiaError):
    """The run directory holds a run of another agent, model or split; its results must not be relabelled."""
