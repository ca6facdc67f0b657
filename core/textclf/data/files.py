"""The built-in ``files`` dataset: a user's own CSV, TSV or JSONL files."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any, Literal

from textclf.data.base import BaseDataModule
from textclf.data.examples import SPLITS, Examples
from textclf.errors import OptionError, TextclfError
from textclf.records import file_sha256, jsonl_records

Format = Literal["auto", "csv", "tsv", "jsonl"]
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_INTEGER = re.compile(r"^[+-]?\d+$")


class Files(BaseDataModule):
    """Examples from CSV, TSV or JSONL files with a text column and a label column.

    Labels may be strings or integers; the label set is the one found in the training file.

    Args:
        train: Training file (.csv, .tsv or .jsonl).
        val: Validation file; without one, val-fraction of train is held out.
        test: Test file, evaluated at the end of training.
        text_column: Column (or JSON field) holding the text.
        label_column: Column (or JSON field) holding the label.
        format: File format; auto goes by the file extension.
    """

    version = "1"

    def __init__(self, train: Path, val: Path | None = None, test: Path | None = None,
                 text_column: str = "text", label_column: str = "label", format: Format = "auto",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.paths = {"train": Path(train), "val": Path(val) if val else None,
                      "test": Path(test) if test else None}
        self.text_column, self.label_column, self.format = text_column, label_column, format
        self._rows: dict[str, tuple[list[str], list[str], list[int]]] = {}

    def prepare_data(self) -> None:
        for split in SPLITS:
            if self.paths[split] is not None:
                self._read(split)

    def fingerprint(self) -> Any:
        return {split: file_sha256(path) for split, path in self.paths.items() if path is not None}

    def label_names(self) -> list[str]:
        labels = set(self._read("train")[1])
        if all(_INTEGER.match(label) for label in labels):
            return sorted(labels, key=int)
        return sorted(labels)

    def load_split(self, split: str) -> Examples | None:
        if self.paths[split] is None:
            return None
        texts, labels, lines = self._read(split)
        if split != "train":
            known = set(self.label_names())
            for label, line in zip(labels, lines):
                if label not in known:
                    raise TextclfError(
                        f"{self.paths[split]} line {line}: label {label!r} does not occur in the "
                        f"training data (labels: {', '.join(self.label_names())})"
                    )
        return Examples(texts, labels)

    # -- reading -----------------------------------------------------------------------------------
    def _read(self, split: str) -> tuple[list[str], list[str], list[int]]:
        if split not in self._rows:
            path = self.paths[split]
            assert path is not None
            fmt = self.format if self.format != "auto" else _SUFFIXES.get(path.suffix.lower())
            if fmt is None:
                raise OptionError(f"`{split}` {path}: unknown file type '{path.suffix}'; use .csv, "
                                  f".tsv or .jsonl, or set `format`")
            text = _decode(path, split)
            rows = _jsonl(text, path, self.text_column, self.label_column) if fmt == "jsonl" else \
                _delimited(text, path, "\t" if fmt == "tsv" else ",", self.text_column, self.label_column)
            if not rows[0]:
                raise TextclfError(f"{path}: no examples, only a header; add rows below it")
            self._rows[split] = rows
        return self._rows[split]


def _decode(path: Path, option: str) -> str:
    """The text of the file given as ``option``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise OptionError(f"`{option}` {path}: no such file") from None
    except IsADirectoryError:
        raise OptionError(f"`{option}` {path}: is a directory, expected a file") from None
    except OSError as exc:
        raise OptionError(f"`{option}` {path}: cannot read it: {exc.strerror}") from None
    if not data.strip():
        raise TextclfError(f"{path}: the file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TextclfError(
            f"{path} line {line}: not UTF-8 (byte 0x{data[exc.start]:02x}); re-save the file as UTF-8"
        ) from None


def _delimited(text: str, path: Path, delimiter: str, text_column: str,
               label_column: str) -> tuple[list[str], list[str], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise TextclfError(f"{path} line 1: malformed header ({exc})") from None
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise TextclfError(f"{path} line 1: the header names column {twice[0]!r} more than once; "
                           f"give each column its own name")
    missing = [c for c in (text_column, label_column) if c not in header]
    if missing:
        option = "text_column" if text_column in missing else "label_column"
        raise OptionError(f"{path}: no column {missing[0]!r} (columns: {', '.join(header)}); name "
                          f"the right one with `{option}`")
    t, lab = header.index(text_column), header.index(label_column)
    texts: list[str] = []
    labels: list[str] = []
    lines: list[int] = []
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise TextclfError(f"{path} line {line}: malformed row ({exc})") from None
        if not row:
            continue
        if len(row) != len(header):
            raise TextclfError(
                f"{path} line {line}: {len(row)} fields where the header has {len(header)}; quote "
                f"fields that contain '{delimiter if delimiter != chr(9) else 'tab'}'"
            )
        _append(texts, labels, lines, row[t], row[lab].strip(), path, line, text_column, label_column)
    return texts, labels, lines


def _jsonl(text: str, path: Path, text_column: str,
           label_column: str) -> tuple[list[str], list[str], list[int]]:
    texts: list[str] = []
    labels: list[str] = []
    lines: list[int] = []
    for line, record in jsonl_records(text, path):
        if not isinstance(record, dict):
            raise TextclfError(f"{path} line {line}: expected a JSON object, got {type(record).__name__}")
        for field in (text_column, label_column):
            if field not in record:
                option = "text_column" if field == text_column else "label_column"
                raise OptionError(f"{path} line {line}: no field {field!r} (fields: "
                                  f"{', '.join(record)}); name the right one with `{option}`")
        label = record[label_column]
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            raise TextclfError(
                f"{path} line {line}: label {label!r} is not a string or an integer"
            )
        value = record[text_column]
        if not isinstance(value, str):
            raise TextclfError(f"{path} line {line}: text {value!r} is not a string")
        _append(texts, labels, lines, value, str(label).strip(), path, line, text_column, label_column)
    return texts, labels, lines


def _append(texts: list[str], labels: list[str], lines: list[int], text: str, label: str,
            path: Path, line: int, text_column: str, label_column: str) -> None:
    if not text.strip():
        raise TextclfError(f"{path} line {line}: empty text in {text_column!r}")
    if not label:
        raise TextclfError(f"{path} line {line}: empty label in {label_column!r}")
    texts.append(text)
    labels.append(label)
    lines.append(line)
