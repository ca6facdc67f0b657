"""A click command whose options include those of the components named on its command line.

How ``textclf train --data imdb --model distilbert --data.batch-size 64`` becomes a run config:

1. ``parse_args`` reads the component names (``--data``, ``--model``, ``--lit-model``),
   ``--config`` and ``--resume`` ahead of full parsing, reads the config file (or the resumed run's
   ``config.yaml``), and chooses each component: its constructor's parameters become options.
2. click parses the whole command line against those options.
3. ``invoke`` hands the values given on the command line, with the config, to
   ``textclf.run_config.resolve`` (the one place that knows precedence), and calls the command
   with the resulting ``RunConfig`` as ``run_config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from textclf.cli.session import session
from textclf.config import load_config
from textclf.console import info
from textclf.kinds import KINDS, TRAINER
from textclf.option_types import is_bool
from textclf.options import NAME_KEY, Option, format_value
from textclf.run_config import Chosen, Sections, resolve, trainer_options
from textclf.training.run import NoCheckpoint, RunDir

#: Options that ``--resume`` accepts: they change the hardware, not the run.
RESUME_OVERRIDES = ("accelerator", "devices", "num_nodes", "precision", "strategy")


@dataclass
class Parsed:
    """What the command line names before its options are parsed: components, config, a run."""

    config: Sections = field(default_factory=dict)
    where: str = "--config"
    resume: RunDir | None = None
    chosen: dict[str, Chosen] = field(default_factory=dict)
    options: list[Option] = field(default_factory=list)


class ComponentContext(click.Context):
    """A context that carries what ``parse_args`` found ahead of click's parsing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parsed = Parsed()


class ComponentCommand(click.Command):
    """``--data``, ``--model`` and ``--lit-model`` pick components; their options follow, grouped
    by component in ``--help``. The callback receives the resolved ``run_config`` (and ``resume``
    as the run directory, opened once)."""

    context_class = ComponentContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = [click.Option([kind.flag], metavar="NAME", expose_value=False,
                              help=f"{kind.role} (see 'textclf plugins')."
                                   + (f"  [default: {kind.default}]" if kind.default else ""))
                 for kind in KINDS]
        config = click.Option(["--config"], type=click.Path(dir_okay=False, path_type=Path),
                              expose_value=False, help="YAML file with data/model/lit_model/trainer "
                                                       "sections; the command line wins.")
        self.params[:0] = [*names, config]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        early = _prescan(args)
        parsed = Parsed()
        if early.get("resume"):
            parsed.resume = RunDir.open(Path(early["resume"]), "--resume")
            check_resumable(parsed.resume, ctx)
            parsed.where = f"--resume {parsed.resume.path}"
            parsed.config = parsed.resume.recorded_config(f"{parsed.where}: config.yaml")
        elif early.get("config"):
            parsed.where = f"--config {early['config']}"
            parsed.config = load_config(Path(early["config"]))
        names = {kind.name: early.get(kind.name) or parsed.config.get(kind.section, {}).get(NAME_KEY)
                 for kind in KINDS}
        asks_help = any(a in ctx.help_option_names for a in args[: _end(args)])
        registry = session(ctx).host().registry
        if not (asks_help and not any(names.values())):
            names.update({kind.name: names[kind.name] or kind.default for kind in KINDS})
        if not asks_help:
            missing = [kind for kind in KINDS if not names[kind.name]]
            if missing:
                available = "; ".join(f"{kind.name}: {', '.join(registry.names(kind)) or 'none installed'}"
                                      for kind in missing)
                flags = " and ".join(f"{kind.flag} NAME" for kind in missing)
                raise click.UsageError(f"missing {flags} ({available})", ctx)
        parsed.chosen = {kind.name: Chosen.by_name(registry, kind, name)
                         for kind in KINDS if (name := names[kind.name])}
        parsed.options = trainer_options() + [o for c in parsed.chosen.values() for o in c.options]
        _context(ctx).parsed = parsed
        return super().parse_args(ctx, args)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        dynamic: list[click.Parameter] = [click_option(o) for o in _context(ctx).parsed.options]
        return params[:-1] + dynamic + params[-1:]  # click's help option stays last

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        parsed = _context(ctx).parsed
        dynamic = {_dest(o) for o in parsed.options}
        base = [p.get_help_record(ctx) for p in self.get_params(ctx) if p.name not in dynamic]
        with formatter.section("Options"):
            formatter.write_dl([r for r in base if r])
        sections = [("Trainer options", [o for o in parsed.options if o.section == TRAINER])]
        sections += [(f"{c.kind.name.capitalize()} options ({c.component.name} from {c.component.plugin})",
                      list(c.options)) for c in parsed.chosen.values()]
        for title, options in sections:
            with formatter.section(title):
                records = [click_option(o).get_help_record(ctx) for o in options]
                formatter.write_dl([r for r in records if r] or [("(none)", "")])
        if not parsed.chosen:
            formatter.write_paragraph()
            formatter.write_text("Add --data NAME --model NAME before --help to see their options.")

    def invoke(self, ctx: click.Context) -> Any:
        parsed = _context(ctx).parsed
        given: dict[str, dict[str, Any]] = {}
        for option in parsed.options:
            value = ctx.params.pop(_dest(option))
            if ctx.get_parameter_source(_dest(option)) is ParameterSource.COMMANDLINE:
                given.setdefault(option.section, {})[option.name] = value
        if parsed.resume is not None:
            _refuse_changes(ctx, parsed.options, given)
            ctx.params["resume"] = parsed.resume
        ctx.params["run_config"] = resolve(parsed.chosen, parsed.config, given, parsed.where)
        return super().invoke(ctx)


def click_option(option: Option) -> click.Option:
    """The click option; its default is ``None`` so that an unset option can be told apart."""
    shown = "[required]" if option.required else f"[default: {format_value(option.default)}]"
    extra: dict[str, Any] = {}
    if is_bool(option.type):  # ``--data.keep-html`` alone means true; a value may follow
        extra = {"is_flag": False, "flag_value": True}
    return click.Option([option.flag, _dest(option)], type=option.type, default=None,
                        help=f"{option.help}  {shown}" if option.help else shown, **extra)


def check_resumable(run: RunDir, ctx: click.Context) -> None:
    """Refuse, before anything is imported, a run that cannot be continued."""
    if run.state().get("status") == "completed":
        raise click.UsageError(
            f"--resume {run.path}: that run has finished; start a new one with "
            f"--config {run.config_file} to reuse its options", ctx)
    try:
        run.resume_checkpoint(info)
    except NoCheckpoint as exc:
        raise click.UsageError(str(exc), ctx) from None


def _refuse_changes(ctx: click.Context, options: list[Option], given: dict[str, dict[str, Any]]) -> None:
    """``--resume`` continues a run with its own config: only the hardware may change."""
    changed = [o.flag for o in options if o.name in given.get(o.section, {})
               and not (o.section == TRAINER and o.name in RESUME_OVERRIDES)]
    changed += [flag for name, flag in [*((k.section, k.flag) for k in KINDS),
                                        ("config", "--config"), ("run_dir", "--run-dir")]
                if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE]
    if changed:
        allowed = ", ".join(f"--{o.replace('_', '-')}" for o in RESUME_OVERRIDES)
        raise click.UsageError(f"--resume continues a run with its own config, so {', '.join(changed)} "
                               f"cannot change it (only the hardware may: {allowed})", ctx)


def _context(ctx: click.Context) -> ComponentContext:
    assert isinstance(ctx, ComponentContext), "a ComponentCommand runs in its own context class"
    return ctx


def _dest(option: Option) -> str:
    """The click parameter name of an option: unique across sections."""
    return f"{option.section}__{option.name}"


def _end(args: list[str]) -> int:
    return args.index("--") if "--" in args else len(args)


def _prescan(args: list[str]) -> dict[str, str]:
    """The values of the kinds' flags, --config and --resume, before full parsing."""
    wanted = {kind.flag: kind.name for kind in KINDS} | {"--config": "config", "--resume": "resume"}
    found: dict[str, str] = {}
    end = _end(args)
    for i, arg in enumerate(args[:end]):
        flag, eq, value = arg.partition("=")
        if flag in wanted:
            if not eq:
                value = args[i + 1] if i + 1 < end else ""
            found[wanted[flag]] = value
    return found
