"""Shared fixtures for the core's tests: short names for the kit's fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def site(textclf_site):
    """An empty plugin site; ``site.add(...)`` installs a plugin, ``site.run(...)`` runs textclf."""
    return textclf_site


@pytest.fixture
def cli(textclf_cli):
    """``cli(*args)`` runs textclf in the test process with the site's plugins."""
    return textclf_cli
