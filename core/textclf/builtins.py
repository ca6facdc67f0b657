"""The core's own plugin: it registers textclf's built-in commands through the public hooks."""

from __future__ import annotations

import click

from textclf.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    from textclf.cli.install import install, uninstall
    from textclf.cli.plugins import plugins
    from textclf.cli.train import train

    for command in (plugins, train, install, uninstall):
        cli.add_command(command)
