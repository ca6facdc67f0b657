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
    Multi-label data gives each text a set of labels, perhaps empty: a JSON list
    (``"labels": ["drama", "comedy"]``), or a CSV/TSV cell split at `label_delimiter`.

    Args:
        train: Training file (.csv, .tsv or .jsonl).
        val: Validation file; without one, val-fraction of train is held out.
        test: Test file, evaluated at the end of training.
        text_column: Column (or JSON field) holding the text.
        label_column: Column (or JSON field) holding the label (or the labels).
        format: File format; auto goes by the file extension.
        multi_label: Each text has a set of labels (implied by a label-delimiter, or by JSON lists
            of labels in the training file).
        label_delimiter: What separates a text's labels in one CSV/TSV cell (or JSON string), e.g. ";".
    """

    version = "2"

    def __init__(self, train: Path, val: Path | None = None, test: Path | None = None,
                 text_column: str = "text", label_column: str = "label", format: Format = "auto",
                 multi_label: bool = False, label_delimiter: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if label_delimiter is not None and (not label_delimiter or label_delimiter.isspace()):
            raise OptionError(f"`label_delimiter` {label_delimiter!r}: must be a visible character "
                              f"or string, e.g. ';'")
        self.paths = {"train": Path(train), "val": Path(val) if val else None,
                      "test": Path(test) if test else None}
        self.text_column, self.label_column, self.format = text_column, label_column, format
        self.label_delimiter = label_delimiter
        self._declared_multi = multi_label or label_delimiter is not None
        self._rows: dict[str, tuple[list[str], list[Any], list[int]]] = {}

    def prepare_data(self) -> None:
        for split in SPLITS:
            if self.paths[split] is not None:
                self._read(split)

    def fingerprint(self) -> Any:
        return {split: file_sha256(path) for split, path in self.paths.items() if path is not None}

    def multi_label(self) -> bool:
        return self._declared_multi or any(isinstance(label, tuple) for label in self._read("train")[1])

    def label_names(self) -> list[str]:
        found = self._read("train")[1]
        labels = {name for item in found for name in item} if self.multi_label() else set(found)
        if len(labels) < 2 and self.multi_label():
            raise TextclfError(f"{self.paths['train']}: the label sets name {len(labels)} label(s) in all; "
                               f"a classifier needs at least two")
        if all(_INTEGER.match(label) for label in labels):
            return sorted(labels, key=int)
        return sorted(labels)

    def load_split(self, split: str) -> Examples | None:
        if self.paths[split] is None:
            return None
        texts, labels, lines = self._read(split)
        multi = self.multi_label()
        if multi:
            labels = [item if isinstance(item, tuple) else _split_labels(item, self.label_delimiter)
                      for item in labels]
        if split != "train":
            known = set(self.label_names())
            for item, line in zip(labels, lines):
                for label in (item if multi else (item,)):
                    if label not in known:
                        raise TextclfError(
                            f"{self.paths[split]} line {line}: label {label!r} does not occur in the "
                            f"training data (labels: {', '.join(self.label_names())})"
                        )
        return Examples(texts, [list(item) for item in labels] if multi else labels)

    # -- reading -----------------------------------------------------------------------------------
    def _read(self, split: str) -> tuple[list[str], list[Any], list[int]]:
        if split not in self._rows:
            path = self.paths[split]
            assert path is not None
            fmt = self.format if self.format != "auto" else _SUFFIXES.get(path.suffix.lower())
            if fmt is None:
                raise OptionError(f"`{split}` {path}: unknown file type '{path.suffix}'; use .csv, "
                                  f".tsv or .jsonl, or set `format`")
            text = _decode(path, split)
            rows = _jsonl(text, path, self.text_column, self.label_column, self.label_delimiter) \
                if fmt == "jsonl" else _delimited(text, path, "\t" if fmt == "tsv" else ",", self.text_column,
                                                  self.label_column, self.label_delimiter)
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


def _split_labels(cell: str, delimiter: str | None) -> tuple[str, ...]:
    """One text's labels from a cell: split at ``delimiter``, each stripped, empty ones dropped;
    without a delimiter the cell is one label (or none, when empty)."""
    parts = cell.split(delimiter) if delimiter else [cell]
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def _delimited(text: str, path: Path, delimiter: str, text_column: str,
               label_column: str, label_delimiter: str | None = None) -> tuple[list[str], list[Any], list[int]]:
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
        label: Any = _split_labels(row[lab], label_delimiter) if label_delimiter else row[lab].strip()
        _append(texts, labels, lines, row[t], label, path, line, text_column, label_column)
    return texts, labels, lines


def _jsonl(text: str, path: Path, text_column: str, label_column: str,
           label_delimiter: str | None = None) -> tuple[list[str], list[Any], list[int]]:
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
        value = record[text_column]
        if not isinstance(value, str):
            raise TextclfError(f"{path} line {line}: text {value!r} is not a string")
        if isinstance(label, list):  # a set of labels: multi-label data
            if not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in label):
                raise TextclfError(f"{path} line {line}: labels {label!r} must be strings or integers")
            label = tuple(dict.fromkeys(str(x).strip() for x in label if str(x).strip()))
        elif isinstance(label, bool) or not isinstance(label, (str, int)):
            raise TextclfError(
                f"{path} line {line}: label {label!r} is not a string or an integer"
            )
        else:
            label = _split_labels(str(label), label_delimiter) if label_delimiter else str(label).strip()
        _append(texts, labels, lines, value, label, path, line, text_column, label_column)
    return texts, labels, lines


def _append(texts: list[str], labels: list[Any], lines: list[int], text: str, label: str | tuple[str, ...],
            path: Path, line: int, text_column: str, label_column: str) -> None:
    if not text.strip():
        raise TextclfError(f"{path} line {line}: empty text in {text_column!r}")
    if label == "":  # an empty label set is a multi-label text no label applies to
        raise TextclfError(f"{path} line {line}: empty label in {label_column!r}")
    texts.append(text)
    labels.append(label)
    lines.append(line)
