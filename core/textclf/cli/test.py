"""``textclf test RUN``: evaluate a finished run's model on its test (or validation) split."""

from __future__ import annotations

import json
from pathlib import Path

import click

from textclf.cli.session import session
from textclf.console import info
from textclf.data.examples import SPLITS


@click.command()
@click.argument("run_path", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice([s for s in SPLITS if s != "train"]), default="test",
              show_default=True, help="Which split to evaluate.")
@click.option("--accelerator", default="auto", show_default=True, help="cpu, gpu, mps or auto.")
@click.option("--batch-size", type=int, help="Examples per batch.  [default: the run's]")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar.  [default: when stderr is a terminal]")
@click.pass_context
def test(ctx: click.Context, run_path: Path, split: str, accelerator: str, batch_size: int | None,
         as_json: bool, progress: bool | None) -> None:
    """Evaluate a run's best model on its test split."""
    from textclf.kinds import DATA, TRAINER
    from textclf.run_config import resolve_recorded
    from textclf.training import pipeline
    from textclf.training.run import RunDir
    from textclf.training.summary import print_summary

    run = RunDir.open_finished(run_path, "textclf test")
    overrides: dict[str, dict[str, object]] = {TRAINER: {"accelerator": accelerator}}
    if batch_size:
        overrides[DATA.section] = {"batch_size": batch_size}
    config = resolve_recorded(session(ctx).host().registry, run.recorded_config(),
                              str(run.config_file), overrides)
    metrics = pipeline.test_run(run, config, split, progress=progress, echo=info)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        print_summary(metrics, title=f"{run_path} ({split} split)")
