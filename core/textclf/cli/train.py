"""``textclf train``: choose data, model and lit-model by name; their constructors are options."""

from __future__ import annotations

from pathlib import Path

import click

from textclf.cli.component_command import ComponentCommand
from textclf.console import info
from textclf.run_config import RunConfig
from textclf.training.run import RunDir


@click.command(cls=ComponentCommand)
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the run goes.  [default: runs/<data>-<model>-<time>]")
@click.option("--overwrite", is_flag=True, help="Replace --run-dir if it already exists.")
@click.option("--resume", metavar="RUN", type=click.Path(file_okay=False, path_type=Path),
              help="Continue an interrupted run from its last checkpoint, with its config.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar.  [default: when stderr is a terminal]")
@click.option("--print-config", is_flag=True,
              help="Print the resolved config as YAML and exit (a starting point for --config).")
def train(run_config: RunConfig, run_dir: Path | None, overwrite: bool, resume: RunDir | None,
          progress: bool | None, print_config: bool) -> None:
    """Train a classifier: data + model + lit-model, chosen by name."""
    if print_config:
        import yaml

        click.echo(yaml.safe_dump(run_config.as_config(), sort_keys=False), nl=False)
        return
    from textclf.training import pipeline
    from textclf.training.summary import print_summary

    metrics = pipeline.train(run_config, run_dir=run_dir, overwrite=overwrite, resume=resume,
                             progress=progress, echo=info)
    if metrics is not None:
        print_summary(metrics)
