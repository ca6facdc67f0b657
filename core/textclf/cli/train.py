"""``textclf train``: choose data, model and lit-model by name; their constructors are options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from textclf.config import load_config
from textclf.options import NAME_KEY, Option, component_options, format_value, resolve_values
from textclf.plugins import get_host
from textclf.registry import Component

DEFAULT_LIT_MODEL = "classifier"
#: Constructor arguments the pipeline supplies itself, so they are not options.
PIPELINE_ARGS = {"data": (), "model": ("labels",), "lit-model": ("model",)}
SECTION = {"data": "data", "model": "model", "lit-model": "lit_model"}


@dataclass
class Chosen:
    """A component picked for this run, with its class and its options."""

    kind: str
    component: Component
    cls: Any
    options: list[Option]

    @property
    def section(self) -> str:
        return SECTION[self.kind]


class ComponentCommand(click.Command):
    """A command whose options include those of the components named on its command line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        early = _prescan(args)
        config_path = early.get("config")
        config = load_config(Path(config_path)) if config_path else {}
        names = {kind: early.get(kind) or config.get(SECTION[kind], {}).get(NAME_KEY)
                 for kind in SECTION}
        asks_help = any(a in ctx.help_option_names for a in args[: _end(args)])
        if not (asks_help and not names["data"] and not names["model"]):
            names["lit-model"] = names["lit-model"] or DEFAULT_LIT_MODEL
        if not asks_help:
            missing = [f"--{kind} NAME" for kind in ("data", "model") if not names[kind]]
            if missing:
                registry = get_host().registry
                available = "; ".join(
                    f"{kind}: {', '.join(registry.names(kind)) or 'none installed'}"
                    for kind in ("data", "model") if not names[kind]
                )
                raise click.UsageError(f"missing {' and '.join(missing)} ({available})", ctx)
        chosen = [_choose(kind, name) for kind, name in names.items() if name]
        ctx.meta["textclf.config"] = config
        ctx.meta["textclf.chosen"] = chosen
        return super().parse_args(ctx, args)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        dynamic = [o.click_option() for c in ctx.meta.get("textclf.chosen", []) for o in c.options]
        return params[:-1] + dynamic + params[-1:]  # click's help option stays last

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        chosen: list[Chosen] = ctx.meta.get("textclf.chosen", [])
        dynamic = {o.dest for c in chosen for o in c.options}
        base = [p.get_help_record(ctx) for p in self.get_params(ctx) if p.name not in dynamic]
        with formatter.section("Options"):
            formatter.write_dl([r for r in base if r])
        for c in chosen:
            title = f"{c.kind.capitalize()} options ({c.component.name} from {c.component.plugin})"
            with formatter.section(title):
                records = [o.click_option().get_help_record(ctx) for o in c.options]
                formatter.write_dl([r for r in records if r] or [("(none)", "")])
        if not chosen:
            formatter.write_paragraph()
            formatter.write_text("Add --data NAME --model NAME before --help to see their options.")

    def resolve(self, ctx: click.Context) -> dict[str, dict[str, Any]]:
        """The run's full config: every component option, from command line, config or default."""
        config = ctx.meta["textclf.config"]
        resolved: dict[str, dict[str, Any]] = {}
        for c in ctx.meta["textclf.chosen"]:
            given = {
                o.name: ctx.params[o.dest] for o in c.options
                if ctx.get_parameter_source(o.dest) is ParameterSource.COMMANDLINE
            }
            values = resolve_values(
                c.options, config=config.get(c.section, {}), command_line=given,
                where=f"--config {ctx.params.get('config')}: {c.section}",
                owner=f"{c.kind} '{c.component.name}'",
            )
            resolved[c.section] = {NAME_KEY: c.component.qualified_name, **values}
        return resolved


def _choose(kind: str, name: str) -> Chosen:
    component = get_host().registry.get(kind, name)
    cls = component.load()
    return Chosen(kind, component, cls, component_options(cls, SECTION[kind], PIPELINE_ARGS[kind]))


def _end(args: list[str]) -> int:
    return args.index("--") if "--" in args else len(args)


def _prescan(args: list[str]) -> dict[str, str]:
    """The values of --data, --model, --lit-model and --config, before full parsing."""
    wanted = {"--data": "data", "--model": "model", "--lit-model": "lit-model", "--config": "config"}
    found: dict[str, str] = {}
    end = _end(args)
    for i, arg in enumerate(args[:end]):
        flag, eq, value = arg.partition("=")
        if flag in wanted:
            if not eq:
                value = args[i + 1] if i + 1 < end else ""
            found[wanted[flag]] = value
    return found


def plain(value: Any) -> Any:
    """A config value as YAML can write it."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return format_value(value)


@click.command(cls=ComponentCommand)
@click.option("--data", metavar="NAME", help="Data module to train on (see 'textclf plugins').")
@click.option("--model", metavar="NAME", help="Model to train.")
@click.option("--lit-model", metavar="NAME", help=f"Training regime.  [default: {DEFAULT_LIT_MODEL}]")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file with data/model/lit_model/trainer sections; the command line wins.")
@click.option("--print-config", is_flag=True,
              help="Print the resolved config as YAML and exit (a starting point for --config).")
@click.pass_context
def train(ctx: click.Context, print_config: bool, **_: Any) -> None:
    """Train a classifier: data + model + lit-model, chosen by name."""
    import yaml

    config = ctx.command.resolve(ctx)
    if print_config:
        click.echo(yaml.safe_dump(plain(config), sort_keys=False), nl=False)
        return
    raise click.UsageError("training itself is not implemented yet; use --print-config", ctx)
