"""How textclf talks on the terminal: progress lines and warnings on stderr, sizes for people."""

from __future__ import annotations

import click

from textclf import kinds
from textclf.errors import render


def info(message: str) -> None:
    """A progress line on stderr; options it names (`data.path`) are shown as flags, and a
    leading ``warning: `` is highlighted."""
    message = render(message, kinds.flag)
    if message.startswith("warning: "):
        message = click.style("warning: ", fg="yellow") + message[len("warning: "):]
    click.echo(message, err=True)


def warn(message: str) -> None:
    info(f"warning: {message}")


def format_bytes(n: float | None) -> str:
    """``249.2 KB``, ``84.1 MB``: decimal units, as download sizes are usually given."""
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
