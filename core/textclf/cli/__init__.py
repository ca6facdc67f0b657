"""The ``textclf`` command line: a click group whose commands come from plugins, core included."""

from __future__ import annotations

import difflib
import logging
import os
import sys
from typing import Any

import click

from textclf import __version__
from textclf.errors import TextclfError
from textclf.plugins import get_host

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class PluginGroup(click.Group):
    """Commands are looked up among the core's first, so ``install`` works with broken plugins."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(get_host().commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = get_host(external=False).commands.get(cmd_name)
        return command or get_host().commands.get(cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            guess = f"; did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"no such command '{name}'{guess}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=PluginGroup, context_settings=CONTEXT_SETTINGS)
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
        _fail(_one_line(str(exc)), exc.exit_code)
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
