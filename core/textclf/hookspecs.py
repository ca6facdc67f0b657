"""The textclf plugin API: every hook a plugin may implement.

A plugin is a module named by an entry point in the ``textclf`` group. It implements any of the
hooks below with the ``textclf.hookimpl`` marker and may declare ``TEXTCLF_PLUGIN_API = 1`` (the
API it was written for; a plugin that declares none is taken to target API 1).

Components are registered by import path, ``"package.module:Class"``, so that listing plugins,
``--help`` and ``predict`` never import a component's heavy dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:
    import click

#: The version of this API. It changes only when a change would break existing plugins.
PLUGIN_API_VERSION = 1

hookspec = pluggy.HookspecMarker("textclf")
hookimpl = pluggy.HookimplMarker("textclf")


class Register(Protocol):
    """The callback a ``register_*`` hook receives."""

    def __call__(self, name: str, target: str, *, help: str = "") -> None:
        """Register component ``name``, implemented by ``target`` ("module:Class")."""


@hookspec
def register_data(register: Register) -> None:
    """Register data modules (subclasses of ``textclf.BaseDataModule``).

    ``register("imdb", "textclf_imdb.data:IMDB", help="IMDB movie reviews, neg/pos")``
    """


@hookspec
def register_models(register: Register) -> None:
    """Register models (``nn.Module``s that carry their tokenizer), like ``register_data``."""


@hookspec
def register_lit_models(register: Register) -> None:
    """Register lit-models (LightningModules owning a training regime), like ``register_data``."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``textclf`` command line: ``cli.add_command(my_command)``."""
