"""``textclf predict BUNDLE``: classify texts with an exported bundle; never imports torch."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from textclf.console import warn
from textclf.errors import TextclfError, UsageError
from textclf.records import jsonl_records

FORMATS = ("table", "json", "jsonl", "csv")
_BY_SUFFIX = {".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}


def read_texts(source: str, input_format: str, text_column: str) -> list[str]:
    """Texts from a file (or ``-``, stdin): lines of .txt, a field of .jsonl, a column of .csv/.tsv.
    Blank entries are skipped; bytes that are not UTF-8 are replaced, with a warning."""
    name = "stdin" if source == "-" else source
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"--input {source}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--input {source}: cannot read it: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        warn(f"{name} is not valid UTF-8 (first bad byte on line {line}); undecodable bytes "
             f"were replaced with U+FFFD")
        text = data.decode("utf-8-sig", errors="replace")
    fmt = input_format
    if fmt == "auto":
        fmt = "txt" if source == "-" else _BY_SUFFIX.get(Path(source).suffix.lower(), "txt")
    if fmt == "txt":
        entries = [(i, line) for i, line in enumerate(text.splitlines(), start=1)]
    elif fmt == "jsonl":
        entries = _jsonl(text, name, text_column)
    else:
        entries = _delimited(text, name, text_column, "\t" if fmt == "tsv" else ",")
    texts = [t for _, t in entries if t.strip()]
    if len(texts) < len(entries):
        warn(f"{name}: skipped {len(entries) - len(texts)} empty entries")
    return texts


def _jsonl(text: str, name: str, column: str) -> list[tuple[int, str]]:
    entries = []
    for number, record in jsonl_records(text, name, UsageError):
        value = record.get(column) if isinstance(record, dict) else None
        if not isinstance(value, str):
            raise UsageError(f"{name} line {number}: no string field {column!r}; name the field "
                             f"with --text-column")
        entries.append((number, value))
    return entries


def _delimited(text: str, name: str, column: str, delimiter: str) -> list[tuple[int, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    if reader.fieldnames is None or column not in reader.fieldnames:
        columns = ", ".join(reader.fieldnames or []) or "none"
        raise UsageError(f"{name}: no column {column!r} (columns: {columns}); name it with --text-column")
    try:
        return [(reader.line_num, row[column] or "") for row in reader]
    except csv.Error as exc:
        raise UsageError(f"{name} line {reader.line_num}: malformed row ({exc})") from None


def render(results: list[dict[str, Any]], labels: list[str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(results, ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["text", "label", "probability", *(f"p_{label}" for label in labels), "truncated"])
        for r in results:
            writer.writerow([r["text"], r["label"], f"{r['probability']:.6f}",
                             *(f"{r['probabilities'][label]:.6f}" for label in labels), r["truncated"]])
        return buffer.getvalue()
    from rich.console import Console, JustifyMethod
    from rich.table import Table

    table = Table()
    columns: tuple[tuple[str, JustifyMethod], ...] = (("label", "left"), ("probability", "right"), ("text", "left"))
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="ellipsis", no_wrap=column == "text")
    for r in results:
        shown = " ".join(r["text"].split())
        table.add_row(r["label"], f"{r['probability']:.4f}", shown[:100] + ("…" if len(shown) > 100 else ""))
    buffer = io.StringIO()
    Console(file=buffer, width=120, highlight=False).print(table)
    return buffer.getvalue()


@click.command("predict")
@click.argument("bundle_path", metavar="BUNDLE", type=click.Path(file_okay=False, path_type=Path))
@click.argument("texts", nargs=-1)
@click.option("--input", "-i", "source", metavar="FILE",
              help="Texts to classify: .txt (one per line), .jsonl or .csv/.tsv; - reads stdin.")
@click.option("--input-format", type=click.Choice(["auto", "txt", "jsonl", "csv", "tsv"]),
              default="auto", show_default=True, help="Format of --input (auto: by extension).")
@click.option("--text-column", default="text", show_default=True,
              help="Field (.jsonl) or column (.csv/.tsv) holding the text.")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the predictions here instead of stdout.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Most texts in one batch.")
@click.option("--max-batch-tokens", type=click.IntRange(min=1),
              help="Most padded tokens in one batch.  [default: 1024 on a CPU, 16384 on a GPU]")
@click.option("--threads", type=click.IntRange(min=1), help="onnxruntime threads (default: all cores).")
@click.option("--provider", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Execution provider; auto uses CUDA when onnxruntime has it.")
def predict(bundle_path: Path, texts: tuple[str, ...], source: str | None, input_format: str,
            text_column: str, fmt: str, output: Path | None, batch_size: int,
            max_batch_tokens: int | None, threads: int | None, provider: str) -> None:
    """Classify texts with an exported bundle (onnxruntime; no torch needed)."""
    from textclf import atomic, runtime

    items = [t for t in texts if t.strip()]
    if len(items) < len(texts):
        warn(f"skipped {len(texts) - len(items)} empty texts")
    if source is not None:
        items += read_texts(source, input_format, text_column)
    if not items:
        raise UsageError("nothing to classify: give texts as arguments, or --input FILE (- for stdin)")
    bundle = runtime.load(bundle_path, threads=threads, provider=provider,
                          max_batch_tokens=max_batch_tokens)
    predictions = bundle.classify(items, batch_size=batch_size)
    cut = sum(p.truncated for p in predictions)
    if cut:
        click.echo(f"note: {cut} of {len(items)} texts were longer than {bundle.manifest['max_length']} "
                   f"tokens and were cut, keeping the {bundle.manifest['truncation']}", err=True)
    results = [{"text": text, "label": p.label, "probability": p.probability,
                "probabilities": p.probabilities, "truncated": p.truncated}
               for text, p in zip(items, predictions)]
    rendered = render(results, bundle.labels, fmt)
    if output is None:
        click.echo(rendered, nl=False)
        return
    try:
        atomic.write_text(output, rendered)
    except OSError as exc:
        raise TextclfError(f"--output {output}: cannot write it: {exc.strerror}") from None
    click.echo(f"wrote {len(results)} predictions to {output}", err=True)
