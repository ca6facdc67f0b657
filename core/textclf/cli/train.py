"""``textclf train``: choose data, model and lit-model by name; their constructors are options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from textclf.cli.options import ComponentCommand
from textclf.components import DEFAULT_LIT_MODEL
from textclf.console import info


@click.command(cls=ComponentCommand)
@click.option("--data", metavar="NAME", help="Data module to train on (see 'textclf plugins').")
@click.option("--model", metavar="NAME", help="Model to train.")
@click.option("--lit-model", metavar="NAME", help=f"Training regime.  [default: {DEFAULT_LIT_MODEL}]")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file with data/model/lit_model/trainer sections; the command line wins.")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the run goes.  [default: runs/<data>-<model>-<time>]")
@click.option("--overwrite", is_flag=True, help="Replace --run-dir if it already exists.")
@click.option("--resume", metavar="RUN", type=click.Path(file_okay=False, path_type=Path),
              help="Continue an interrupted run from its last checkpoint, with its config.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar.  [default: when stderr is a terminal]")
@click.option("--print-config", is_flag=True,
              help="Print the resolved config as YAML and exit (a starting point for --config).")
@click.pass_context
def train(ctx: click.Context, run_dir: Path | None, overwrite: bool, resume: Path | None,
          progress: bool | None, print_config: bool, **_: Any) -> None:
    """Train a classifier: data + model + lit-model, chosen by name."""
    resolved = ctx.command.resolve(ctx)
    if print_config:
        import yaml

        click.echo(yaml.safe_dump(resolved.as_config(), sort_keys=False), nl=False)
        return
    from textclf.training import pipeline
    from textclf.training.run import RunDir
    from textclf.training.summary import print_summary

    run = RunDir.open(resume, "--resume") if resume is not None else None
    metrics = pipeline.train(resolved, run_dir=run_dir, overwrite=overwrite, resume=run,
                             progress=progress, echo=info)
    if metrics is not None:
        print_summary(metrics)
