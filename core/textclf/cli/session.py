"""What one run of the ``textclf`` program knows: its plugin host, loaded when first needed."""

from __future__ import annotations

from collections.abc import Mapping

import click

from textclf.console import warn
from textclf.plugins import PluginHost


class Session:
    """The state of one ``textclf`` invocation, shared by its commands through click's context.

    The plugin host is made on first use, so commands that need no plugin (``--version``,
    ``install``) load none, and a broken plugin can always be uninstalled.
    """

    def __init__(self, core_commands: Mapping[str, click.Command]) -> None:
        self.core_commands = dict(core_commands)
        self._host: PluginHost | None = None

    def host(self, *, external: bool = True) -> PluginHost:
        """The plugin host: the built-ins, and with ``external`` every installed plugin too."""
        if self._host is None:
            self._host = PluginHost(on_problem=warn, core_commands=self.core_commands)
            self._host.load_builtins()
        if external:
            self._host.load_entry_points()
        return self._host


def session(ctx: click.Context) -> Session:
    """The invocation's session, made on first use from the root command's own commands."""
    root = ctx.find_root()
    if not isinstance(root.obj, Session):
        commands = root.command.commands if isinstance(root.command, click.Group) else {}
        root.obj = Session(commands)
    return root.obj
