"""Small readers shared by training and the runtime (torch-free): file digests, JSON Lines."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from textclf.errors import TextclfError


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, split at "\\n" alone (the "\\r" of a CRLF dropped): unlike
    ``str.splitlines`` it keeps form feeds, U+0085, U+2028 and the like, which a line of text or
    a JSON string may hold."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def jsonl_records(text: str, where: object,
                  error: type[TextclfError] = TextclfError) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) of each non-blank line; invalid JSON raises ``error``
    naming ``where`` and the line."""
    return decode_jsonl(enumerate(split_lines(text), start=1), where, error)


def decode_jsonl(lines: Iterable[tuple[int, str]], where: object,
                 error: type[TextclfError] = TextclfError) -> Iterator[tuple[int, Any]]:
    """``jsonl_records`` over (line number, line) pairs read elsewhere, one at a time."""
    for number, line in lines:
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where} line {number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
