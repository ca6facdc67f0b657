"""The ``textclf`` command line: the core's commands, and those plugins add.

The core's commands are the group's own; plugins add theirs through ``register_commands``, and
are loaded only when a command that is not the core's is asked for (or the commands are listed).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from textclf import __version__, kinds
from textclf.cli.export import export_command
from textclf.cli.install import install, uninstall
from textclf.cli.plugins import plugins
from textclf.cli.predict import predict
from textclf.cli.serve import serve_command
from textclf.cli.session import session
from textclf.cli.test import test
from textclf.cli.train import train
from textclf.errors import TextclfError, did_you_mean
from textclf.training.processes import tie_to_parent

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class PluginGroup(click.Group):
    """The core's commands first (without loading any plugin), then the plugins'."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *session(ctx).host().commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or session(ctx).host().commands.get(cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            guess = did_you_mean(name, self.list_commands(ctx))
            raise click.UsageError(f"no such command '{name}'{guess}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=PluginGroup, context_settings=CONTEXT_SETTINGS,
             commands=[plugins, train, test, export_command, predict, serve_command, install, uninstall])
@click.version_option(__version__, "-V", "--version", prog_name="textclf",
                      message="%(prog)s %(version)s")
def cli() -> None:
    """Train text classifiers from plugins, export them to ONNX, and run them anywhere.

    \b
    textclf plugins                               what is installed
    textclf train --data imdb --model distilbert  train a classifier
    textclf train --data imdb --model distilbert --help   the components' options
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: user mistakes become one ``error:`` line and a non-zero exit, never a traceback."""
    tie_to_parent()  # in a process a multi-device run started: die with that run
    debug = os.environ.get("TEXTCLF_DEBUG", "").lower() in {"1", "true", "yes"}
    _show_progress_logs()
    try:
        result = cli.main(args=argv, prog_name="textclf", standalone_mode=False)
    except click.UsageError as exc:
        if debug:
            raise
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(_one_line(exc.format_message()) + hint, exc.exit_code)
    except click.ClickException as exc:
        if debug:
            raise
        _fail(_one_line(exc.format_message()), exc.exit_code)
    except TextclfError as exc:
        if debug:
            raise
        _fail(_one_line(exc.render(kinds.flag)), exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("Aborted.", err=True)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def _show_progress_logs() -> None:
    """Messages logged under ``textclf`` (downloads, data preparation) go to stderr as lines."""
    logger = logging.getLogger("textclf")
    if not any(isinstance(h, _StderrLines) for h in logger.handlers):
        logger.addHandler(_StderrLines())
    logger.setLevel(logging.INFO)


class _StderrLines(logging.Handler):
    """Each record as a line on whatever ``sys.stderr`` is when it is logged."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(record.getMessage(), err=True)
        except Exception:
            self.handleError(record)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _fail(message: str, code: int) -> None:
    click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)
    sys.exit(code)
