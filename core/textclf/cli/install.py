"""``textclf install`` / ``textclf uninstall``: pip, run in the environment textclf lives in."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import click

from textclf.errors import TextclfError

_PASS_THROUGH = {"ignore_unknown_options": True, "help_option_names": ["--help"]}


def _run_pip(command: str, args: tuple[str, ...]) -> None:
    if importlib.util.find_spec("pip") is None:
        raise TextclfError(
            f"pip is not installed in textclf's environment ({sys.executable}); "
            f"add it with: {sys.executable} -m ensurepip"
        )
    code = subprocess.call([sys.executable, "-m", "pip", command, *args])
    if code != 0:
        raise TextclfError(f"pip {command} {' '.join(args)} failed (exit status {code}); see pip's output above")


@click.command(context_settings=_PASS_THROUGH)
@click.argument("pip_args", nargs=-1, required=True, type=click.UNPROCESSED)
def install(pip_args: tuple[str, ...]) -> None:
    """Install plugins into textclf's environment (runs pip).

    Arguments go to 'pip install' unchanged: textclf install -U textclf-imdb,
    textclf install -e ./my-plugin, textclf install --no-index --find-links wheels/ my-plugin.
    """
    _run_pip("install", pip_args)


@click.command(context_settings=_PASS_THROUGH)
@click.argument("pip_args", nargs=-1, required=True, type=click.UNPROCESSED)
def uninstall(pip_args: tuple[str, ...]) -> None:
    """Uninstall plugins from textclf's environment (runs pip).

    Arguments go to 'pip uninstall' unchanged; add -y to skip pip's question.
    """
    _run_pip("uninstall", pip_args)
