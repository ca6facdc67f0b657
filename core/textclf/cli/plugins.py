"""``textclf plugins``: what each installed plugin provides, or why it is broken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from textclf import __version__
from textclf.cli.session import session
from textclf.hookspecs import PLUGIN_API_VERSION
from textclf.kinds import KINDS, kind_named
from textclf.plugins import Plugin
from textclf.scaffold import STARTERS, new_plugin, next_steps


def describe(plugin: Plugin) -> dict[str, Any]:
    """A plugin as plain data: the JSON form of one row group of the table."""
    info: dict[str, Any] = {
        "name": plugin.name,
        "version": plugin.version,
        "builtin": plugin.builtin,
        "entry_point": plugin.entry_point or None,
        "error": plugin.error,
    }
    for kind in KINDS:
        info[kind.collection] = [
            {"name": c.name, "target": c.target, "help": c.help}
            for c in plugin.components if c.kind == kind.name
        ]
    info["commands"] = [
        {"name": name, "help": command.get_short_help_str(limit=80)}
        for name, command in sorted(plugin.commands.items())
    ]
    return info


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins and what each provides; 'plugins new' starts one."""
    if ctx.invoked_subcommand is not None:
        return
    host = session(ctx).host()
    described = [describe(p) for p in host.plugins]
    collisions = [
        {"kind": kind, "name": name, "plugins": [c.plugin for c in found],
         "choose_with": [f"{kind_named(kind).flag} {c.qualified_name}" for c in found]}
        for (kind, name), found in host.registry.collisions().items()
    ]
    if as_json:
        document = {"textclf": __version__, "plugin_api": PLUGIN_API_VERSION,
                    "plugins": described, "collisions": collisions}
        click.echo(json.dumps(document, indent=2))
        return
    _print_table(described, collisions)


def _print_table(described: list[dict[str, Any]], collisions: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"textclf {__version__} plugins", title_justify="left")
    for column in ("plugin", "version", "provides", "name", "description"):
        table.add_column(column, overflow="fold")
    for info in described:
        rows: list[tuple[str, str, str]] = []
        if info["error"]:
            rows.append(("[red]error[/]", "", f"[red]{_escape(info['error'])}[/]"))
        for kind in KINDS:
            rows += [(kind.name, c["name"], c["help"]) for c in info[kind.collection]]
        rows += [("command", c["name"], c["help"]) for c in info["commands"]]
        if not rows:
            rows.append(("-", "", "no components yet"))
        name = info["name"] + (" (built-in)" if info["builtin"] else "")
        for i, (provides, item, help_text) in enumerate(rows):
            first = i == 0
            table.add_row(name if first else "", info["version"] if first else "", provides,
                          _escape(item), _escape(help_text) if "[red]" not in help_text else help_text,
                          end_section=i == len(rows) - 1)
    console = Console(highlight=False)
    console.print(table)
    for clash in collisions:
        console.print(
            f"[yellow]note:[/] {clash['kind']} '{_escape(clash['name'])}' is provided by "
            f"{' and '.join(clash['plugins'])}; choose one with {' or '.join(clash['choose_with'])}"
        )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@plugins.command("new")
@click.argument("dist", metavar="DIST")
@click.option("--name", metavar="NAME",
              help="The component's name, which users choose it by (--data NAME, --model NAME "
                   "or --lit-model NAME).  [default: DIST without textclf-]")
@click.option("--kind", type=click.Choice(list(STARTERS)), default="data",
              show_default=True, help="What the plugin provides.")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory to create the plugin in.")
def new(dist: str, name: str | None, kind: str, output: Path) -> None:
    """Start a plugin: the distribution DIST (textclf- is put in front if missing) with a working
    KIND component and its tests.

    \b
    textclf plugins new textclf-cnn --name textcnn --kind model
        textclf-cnn/ (package textclf_cnn), registering the model textcnn
    textclf plugins new movie-reviews
        textclf-movie-reviews/, registering the data module movie-reviews
    """
    files = new_plugin(dist, kind, output, name=name)
    for path in files:
        click.echo(f"  {path}")
    click.echo("")
    for line in next_steps(dist, kind, output, name=name):
        click.echo(line)
