"""The exceptions a user can act on: the CLI prints them as one line, without a traceback."""

from __future__ import annotations


class TextclfError(Exception):
    """A mistake in the user's input or environment; the message says what to do about it."""

    exit_code = 1


class UsageError(TextclfError):
    """A bad option, option value or config file."""

    exit_code = 2


class PluginError(TextclfError):
    """A plugin could not be loaded, or broke the plugin API."""


class ComponentError(TextclfError):
    """A component name that is unknown, ambiguous, or cannot be imported."""

    exit_code = 2
