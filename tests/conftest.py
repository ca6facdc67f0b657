"""Shared fixtures for the core's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_site import PluginSite


@pytest.fixture
def site(tmp_path: Path) -> PluginSite:
    """An empty plugin site; ``site.add(...)`` installs a plugin, ``site.run(...)`` runs textclf."""
    return PluginSite(tmp_path / "site")
