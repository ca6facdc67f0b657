"""``textclf predict BUNDLE``: classify texts with an exported bundle; never imports torch.

The input is read, classified and written a chunk at a time, so that memory stays flat however
many texts it holds; an ``--output`` file appears only once every prediction is in it.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import IO, Any

import click

from textclf import atomic
from textclf.console import warn
from textclf.errors import TextclfError, UsageError
from textclf.records import decode_jsonl

FORMATS = ("table", "json", "jsonl", "csv")
_BY_SUFFIX = {".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}
#: Texts classified (and, in the table format, shown in one table) at a time. Thousands keep
#: length-sorted batching as fast as on the whole input.
CHUNK_TEXTS = 2048
#: A chunk also ends past this many characters, so that long texts keep it small too.
CHUNK_CHARS = 1 << 20



def read_texts(source: str, input_format: str, text_column: str) -> Iterator[str]:
    """Texts from a file (or ``-``, stdin), read as they are asked for: lines of .txt, a field
    of .jsonl, a column of .csv/.tsv. Blank entries are skipped, with a warning at the end; bytes
    that are not UTF-8 are replaced, with a warning."""
    name = "stdin" if source == "-" else source
    fmt = input_format
    if fmt == "auto":
        fmt = "txt" if source == "-" else _BY_SUFFIX.get(Path(source).suffix.lower(), "txt")
    with _opened(source) as handle:
        lines = _decoded_lines(handle, source, name)
        if fmt == "txt":
            entries: Iterator[str] = (_unterminated(line) for _, line in lines)
        elif fmt == "jsonl":
            entries = _jsonl(((n, _unterminated(line)) for n, line in lines), name, text_column)
        else:
            entries = _delimited((line for _, line in lines), name, text_column,
                                 "\t" if fmt == "tsv" else ",")
        skipped = 0
        for text in entries:
            if text.strip():
                yield text
            else:
                skipped += 1
    if skipped:
        warn(f"{name}: skipped {skipped} empty entries")


def _opened(source: str) -> AbstractContextManager[IO[bytes]]:
    if source == "-":
        return nullcontext(sys.stdin.buffer)  # stdin stays open for whoever reads it next
    try:
        return open(source, "rb")
    except FileNotFoundError:
        raise UsageError(f"--input {source}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--input {source}: cannot read it: {exc.strerror}") from None


def _decoded_lines(handle: IO[bytes], source: str, name: str) -> Iterator[tuple[int, str]]:
    """(line number, line with its "\\n") of a binary file, split at "\\n" alone: ``splitlines``
    would also split at form feeds, U+2028 and the like inside a text."""
    warned = False
    try:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                if not warned:
                    warn(f"{name} is not valid UTF-8 (first bad byte on line {number}); undecodable "
                         f"bytes were replaced with U+FFFD")
                    warned = True
                line = raw.decode("utf-8", errors="replace")
            yield number, line
    except OSError as exc:
        raise UsageError(f"--input {source}: cannot read it: {exc.strerror}") from None


def _unterminated(line: str) -> str:
    return line.removesuffix("\n").removesuffix("\r")


def _jsonl(lines: Iterable[tuple[int, str]], name: str, column: str) -> Iterator[str]:
    for number, record in decode_jsonl(lines, name, UsageError):
        value = record.get(column) if isinstance(record, dict) else None
        if not isinstance(value, str):
            raise UsageError(f"{name} line {number}: no string field {column!r}; name the field "
                             f"with --text-column")
        yield value


def _delimited(lines: Iterable[str], name: str, column: str, delimiter: str) -> Iterator[str]:
    reader = csv.DictReader(lines, delimiter=delimiter)
    try:
        if reader.fieldnames is None or column not in reader.fieldnames:
            columns = ", ".join(reader.fieldnames or []) or "none"
            raise UsageError(f"{name}: no column {column!r} (columns: {columns}); name it with "
                             f"--text-column")
        for row in reader:
            yield row[column] or ""
    except csv.Error as exc:
        raise UsageError(f"{name} line {reader.line_num}: malformed row ({exc})") from None


def chunks(texts: Iterable[str], size: int, chars: int) -> Iterator[list[str]]:
    """Consecutive runs of at most ``size`` texts and ``chars`` characters (one text at least)."""
    chunk: list[str] = []
    length = 0
    for text in texts:
        if chunk and (len(chunk) == size or length + len(text) > chars):
            yield chunk
            chunk, length = [], 0
        chunk.append(text)
        length += len(text)
    if chunk:
        yield chunk


def render(results: list[dict[str, Any]], labels: list[str], fmt: str, *, first: bool = True) -> str:
    """A chunk of predictions in ``fmt``: the ``first`` chunk opens the output (the JSON array's
    ``[``, the CSV header), ``closing(fmt)`` ends it; in the table format, each is a table.
    Results of a multi-label bundle carry ``labels`` (a list) instead of ``label`` and
    ``probability``: the CSV's ``labels`` column joins them with ``;``."""
    multi = bool(results) and "labels" in results[0]
    if fmt == "json":
        items = (_json(r, indent=2).replace("\n", "\n  ") for r in results)
        return ("[\n  " if first else ",\n  ") + ",\n  ".join(items)
    if fmt == "jsonl":
        return "".join(_json(r) + "\n" for r in results)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        chosen = ["labels"] if multi else ["label", "probability"]
        if first:
            writer.writerow(["text", *chosen, *(f"p_{label}" for label in labels), "truncated"])
        for r in results:
            given = [";".join(r["labels"])] if multi else [r["label"], f"{r['probability']:.6f}"]
            writer.writerow([r["text"], *given, *(f"{r['probabilities'][label]:.6f}" for label in labels),
                             r["truncated"]])
        return buffer.getvalue()
    from rich.console import Console, JustifyMethod
    from rich.table import Table

    table = Table()
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        (("labels", "left"),) if multi else (("label", "left"), ("probability", "right"))) + (("text", "left"),)
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="ellipsis", no_wrap=column == "text")
    for r in results:
        shown = " ".join(r["text"].split())
        given = [", ".join(r["labels"]) or "(none)"] if multi else [r["label"], f"{r['probability']:.4f}"]
        table.add_row(*given, shown[:100] + ("…" if len(shown) > 100 else ""))
    buffer = io.StringIO()
    Console(file=buffer, width=120, highlight=False).print(table)
    return buffer.getvalue()


#: Characters JSON allows raw in a string that ``str.splitlines`` (and so many a JSON Lines
#: reader) takes for line ends; escaped, a prediction stays on its line.
_LINE_BREAKING = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"})


def _json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent).translate(_LINE_BREAKING)


def closing(fmt: str) -> str:
    """What ends an output of ``fmt`` after its last chunk."""
    return "\n]\n" if fmt == "json" else ""


def refuse_overwriting(source: str | None, output: Path | None) -> None:
    """A usage error when ``output`` is the ``source`` file: by its path, through a symlink, or
    as a hard link to it (writing the predictions would destroy the texts)."""
    if source is None or source == "-" or output is None:
        return
    same = Path(source).resolve() == output.resolve()
    if not same and output.exists():
        try:
            same = os.path.samefile(source, output)
        except OSError:  # an input that cannot be read is reported when it is read
            pass
    if same:
        raise UsageError(f"--output {output}: it is the --input file, which the predictions would "
                         f"replace; write them to another file")


@contextmanager
def destination(output: Path | None) -> Iterator[Callable[[str], object]]:
    """A function writing to stdout, or to a temporary file beside ``output`` that becomes
    ``output`` when the block ends without error; after an error, ``output`` is untouched."""
    if output is None:
        yield lambda text: click.echo(text, nl=False)
        return
    try:
        with atomic.file(output) as handle:
            yield handle.write
    except OSError as exc:
        raise TextclfError(f"--output {output}: cannot write it: {exc.strerror}") from None


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
              show_default=True,
              help=f"Output format. table is for reading: a table per {CHUNK_TEXTS:,} texts at most, "
                   f"each text cut to 100 characters; use jsonl or csv for large inputs.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the predictions here instead of stdout (all or nothing; never the "
                   "--input file).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Most texts in one batch.")
@click.option("--max-batch-tokens", type=click.IntRange(min=1),
              help="Most padded tokens in one batch.  [default: 1024 on a CPU, 16384 on a GPU]")
@click.option("--threads", type=click.IntRange(min=1), help="onnxruntime threads (default: all cores).")
@click.option("--provider", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Execution provider; auto uses CUDA when onnxruntime has it.")
@click.option("--trusted-key", "trusted_keys", metavar="KEYFILE", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Public key (PEM or OpenSSH) of a publisher you trust; repeatable. The bundle "
                   "must then be signed by one of them (textclf export --sign).")
def predict(bundle_path: Path, texts: tuple[str, ...], source: str | None, input_format: str,
            text_column: str, fmt: str, output: Path | None, batch_size: int,
            max_batch_tokens: int | None, threads: int | None, provider: str,
            trusted_keys: tuple[Path, ...]) -> None:
    """Classify texts with an exported bundle (onnxruntime; no torch needed).

    Texts are read, classified and written a few thousand at a time, so inputs of any size fit
    in memory. A mistake found later in --input stops the command after the predictions before
    it were printed; an --output file is written only when every text was classified.
    """
    from textclf import runtime

    refuse_overwriting(source, output)
    items = [t for t in texts if t.strip()]
    if len(items) < len(texts):
        warn(f"skipped {len(texts) - len(items)} empty texts")
    read = read_texts(source, input_format, text_column) if source is not None else iter(())
    stream = chunks(itertools.chain(items, read), CHUNK_TEXTS, CHUNK_CHARS)
    first = next(stream, None)  # mistakes in the input's start come before loading the bundle
    if first is None:
        raise UsageError("nothing to classify: give texts as arguments, or --input FILE (- for stdin)")
    bundle = runtime.load(bundle_path, threads=threads, provider=provider,
                          max_batch_tokens=max_batch_tokens, trusted_keys=list(trusted_keys) or None)
    count = cut = 0
    with destination(output) as write:
        for chunk in itertools.chain([first], stream):
            predictions = bundle.classify(chunk, batch_size=batch_size)
            results = [({"text": text, "labels": list(p.labels)} if bundle.multi_label else
                        {"text": text, "label": p.label, "probability": p.probability})
                       | {"probabilities": p.probabilities, "truncated": p.truncated}
                       for text, p in zip(chunk, predictions)]
            write(render(results, bundle.labels, fmt, first=count == 0))
            count += len(chunk)
            cut += sum(p.truncated for p in predictions)
        write(closing(fmt))
    if cut:
        click.echo(f"note: {cut} of {count} texts were longer than {bundle.manifest['max_length']} "
                   f"tokens and were cut, keeping the {bundle.manifest['truncation']}", err=True)
    if output is not None:
        click.echo(f"wrote {count} predictions to {output}", err=True)
