"""``textclf export RUN --output DIR``: a finished run as an ONNX bundle."""

from __future__ import annotations

from pathlib import Path

import click

from textclf.cli.session import session
from textclf.console import info
from textclf.errors import options_of


@click.command("export")
@click.argument("run_path", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the bundle to.")
@click.option("--quantize", type=click.Choice(["int8"]),
              help="Store a dynamically quantized int8 model (checked for accuracy on the "
                   "validation texts).")
@click.option("--max-accuracy-drop", metavar="POINTS", type=float,
              help="The most validation accuracy, in points, --quantize int8 may lose against "
                   "fp32; a larger drop is refused.  [default: 0.5]")
@click.option("--optimize/--no-optimize", default=True, show_default=True,
              help="Fuse attention, layer norms and GELUs into onnxruntime kernels (faster; "
                   "--no-optimize keeps a plain ONNX graph for other runtimes).")
@click.option("--overwrite", is_flag=True,
              help="Replace --output if it is a bundle or an empty directory (never anything else).")
@click.option("--sign", metavar="KEYFILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Sign the bundle with this Ed25519 private key (PEM or OpenSSH; make one with "
                   "'openssl genpkey -algorithm ed25519 -out KEYFILE'; needs textclf[sign]).")
@click.pass_context
def export_command(ctx: click.Context, run_path: Path, output: Path, quantize: str | None,
                   max_accuracy_drop: float | None, optimize: bool, overwrite: bool,
                   sign: Path | None) -> None:
    """Export a run's model as a self-contained ONNX bundle."""
    from textclf.export import export

    # export()'s parameters are this command's options: its errors name them as our flags.
    with options_of(None, (str(param.name) for param in ctx.command.params)):
        export(run_path, output, registry=session(ctx).host().registry, quantize=quantize,
               optimize=optimize, overwrite=overwrite, sign=sign,
               max_accuracy_drop=max_accuracy_drop, echo=info)
