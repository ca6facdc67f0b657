"""Small readers shared by training and the runtime (torch-free): file digests, JSON Lines."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
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


def jsonl_records(text: str, where: object,
                  error: type[TextclfError] = TextclfError) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) of each non-blank line; invalid JSON raises ``error``
    naming ``where`` and the line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where} line {number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
