"""The core's own plugin: textclf's built-ins, registered through the public hooks."""

from __future__ import annotations

import click

from textclf.hookspecs import hookimpl


@hookimpl
def register_data(register) -> None:
    register("files", "textclf.data.files:Files",
             help="Your own CSV, TSV or JSONL files with a text and a label column")


@hookimpl
def register_lit_models(register) -> None:
    register("classifier", "textclf.lit_models.classifier:Classifier",
             help="Cross-entropy, AdamW, warmup then linear decay; accuracy and macro-F1")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from textclf.cli.export import export_command
    from textclf.cli.install import install, uninstall
    from textclf.cli.plugins import plugins
    from textclf.cli.predict import predict
    from textclf.cli.test import test
    from textclf.cli.train import train

    for command in (plugins, train, test, export_command, predict, install, uninstall):
        cli.add_command(command)
