"""The base of every settings section: an unknown key (a typo in omne.toml or OMNE_*) is an error, not ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SettingsSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
