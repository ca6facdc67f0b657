"""A click command whose options include those of the components named on its command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from textclf.components import DEFAULT_LIT_MODEL, SECTION, Chosen, Resolved, choose, resolve, trainer_options
from textclf.config import load_config
from textclf.options import NAME_KEY, Option
from textclf.plugins import get_host

#: Options that ``--resume`` accepts: they change the hardware, not the run.
RESUME_OVERRIDES = ("accelerator", "devices", "num_nodes", "precision", "strategy")


class ComponentCommand(click.Command):
    """``--data``, ``--model`` and ``--lit-model`` pick components; their options follow.

    The names (and ``--config`` / ``--resume``) are read before full parsing, the components are
    imported, and their constructor parameters join the command's options, grouped in ``--help``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        early = _prescan(args)
        if early.get("resume"):
            from textclf.training.run import RunDir

            run = RunDir.open(Path(early["resume"]), "--resume")
            check_resumable(run, ctx)
            where = f"--resume {run.path}"
            config = run.recorded_config(f"{where}: config.yaml")
        else:
            where = f"--config {early['config']}" if early.get("config") else "--config"
            config = load_config(Path(early["config"])) if early.get("config") else {}
        names = {kind: early.get(kind) or config.get(SECTION[kind], {}).get(NAME_KEY)
                 for kind in SECTION}
        asks_help = any(a in ctx.help_option_names for a in args[: _end(args)])
        if not (asks_help and not names["data"] and not names["model"]):
            names["lit-model"] = names["lit-model"] or DEFAULT_LIT_MODEL
        registry = get_host().registry
        if not asks_help:
            missing = [f"--{kind} NAME" for kind in ("data", "model") if not names[kind]]
            if missing:
                available = "; ".join(
                    f"{kind}: {', '.join(registry.names(kind)) or 'none installed'}"
                    for kind in ("data", "model") if not names[kind]
                )
                raise click.UsageError(f"missing {' and '.join(missing)} ({available})", ctx)
        ctx.meta["textclf.config"] = (config, where)
        ctx.meta["textclf.chosen"] = {kind: choose(registry, kind, name)
                                      for kind, name in names.items() if name}
        ctx.meta["textclf.trainer"] = trainer_options()
        return super().parse_args(ctx, args)

    def _dynamic(self, ctx: click.Context) -> list[Option]:
        chosen: dict[str, Chosen] = ctx.meta.get("textclf.chosen", {})
        return ctx.meta.get("textclf.trainer", []) + [o for c in chosen.values() for o in c.options]

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        dynamic = [o.click_option() for o in self._dynamic(ctx)]
        return params[:-1] + dynamic + params[-1:]  # click's help option stays last

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        dynamic = {o.dest for o in self._dynamic(ctx)}
        base = [p.get_help_record(ctx) for p in self.get_params(ctx) if p.name not in dynamic]
        with formatter.section("Options"):
            formatter.write_dl([r for r in base if r])
        sections: list[tuple[str, list[Option]]] = [("Trainer options", ctx.meta.get("textclf.trainer", []))]
        for c in ctx.meta.get("textclf.chosen", {}).values():
            sections.append((f"{c.kind.capitalize()} options ({c.component.name} from "
                             f"{c.component.plugin})", c.options))
        for title, options in sections:
            with formatter.section(title):
                records = [o.click_option().get_help_record(ctx) for o in options]
                formatter.write_dl([r for r in records if r] or [("(none)", "")])
        if not ctx.meta.get("textclf.chosen"):
            formatter.write_paragraph()
            formatter.write_text("Add --data NAME --model NAME before --help to see their options.")

    def resolve(self, ctx: click.Context) -> Resolved:
        """Every option's value for this invocation (see ``textclf.components.resolve``)."""
        config, where = ctx.meta["textclf.config"]
        chosen: dict[str, Chosen] = ctx.meta["textclf.chosen"]
        given: dict[str, dict[str, Any]] = {}
        for option in self._dynamic(ctx):
            if ctx.get_parameter_source(option.dest) is ParameterSource.COMMANDLINE:
                given.setdefault(option.section, {})[option.name] = ctx.params[option.dest]
        if ctx.params.get("resume"):
            changed = [o.flag for o in self._dynamic(ctx) if o.name in given.get(o.section, {})
                       and not (o.section == "trainer" and o.name in RESUME_OVERRIDES)]
            changed += [f"--{p}" for p in ("data", "model", "lit-model", "config", "run-dir")
                        if ctx.get_parameter_source(p.replace("-", "_")) is ParameterSource.COMMANDLINE]
            if changed:
                allowed = ", ".join(f"--{o.replace('_', '-')}" for o in RESUME_OVERRIDES)
                raise click.UsageError(
                    f"--resume continues a run with its own config, so {', '.join(changed)} cannot "
                    f"change it (only the hardware may: {allowed})", ctx)
        return resolve(chosen, config, given, where)


def check_resumable(run: Any, ctx: click.Context) -> None:
    """Refuse, before anything is imported, a run that cannot be continued."""
    if run.state().get("status") == "completed":
        raise click.UsageError(
            f"--resume {run.path}: that run has finished; start a new one with "
            f"--config {run.config_file} to reuse its options", ctx)
    if not run.last_checkpoint.is_file():
        raise click.UsageError(
            f"--resume {run.path}: no checkpoint to continue from (it stopped before its first "
            f"one); start it again with --config {run.config_file} --run-dir {run.path} "
            f"--overwrite", ctx)


def _end(args: list[str]) -> int:
    return args.index("--") if "--" in args else len(args)


def _prescan(args: list[str]) -> dict[str, str]:
    """The values of --data, --model, --lit-model, --config and --resume, before full parsing."""
    wanted = {"--data": "data", "--model": "model", "--lit-model": "lit-model",
              "--config": "config", "--resume": "resume"}
    found: dict[str, str] = {}
    end = _end(args)
    for i, arg in enumerate(args[:end]):
        flag, eq, value = arg.partition("=")
        if flag in wanted:
            if not eq:
                value = args[i + 1] if i + 1 < end else ""
            found[wanted[flag]] = value
    return found
