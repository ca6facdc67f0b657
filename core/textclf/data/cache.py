"""The on-disk token cache: each split's token ids, tokenized once and memory-mapped after.

A cache entry is a directory named by a hash of everything that decides its content (the data
module, its version and options, the tokenizer's full JSON, the max length and truncation), so a
changed input never reuses stale tokens. Entries are written to a temporary directory and renamed
into place: an interrupted run never leaves one that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textclf import atomic
from textclf.errors import TextclfError

#: Texts tokenized per call, to bound memory on large splits.
CHUNK = 8192


def default_cache_dir() -> Path:
    """``$TEXTCLF_CACHE``, else the platform's user cache directory (``~/.cache/textclf``)."""
    if os.environ.get("TEXTCLF_CACHE"):
        return Path(os.environ["TEXTCLF_CACHE"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("textclf"))


def cache_key(identity: dict[str, Any]) -> str:
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class TokenizedSplit:
    """One split's token ids as one flat array plus row offsets (CSR), with labels."""

    ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, index: int) -> np.ndarray:
        return self.ids[self.offsets[index] : self.offsets[index + 1]]


def tokenize(encode: Callable[[Sequence[str]], list[list[int]]], texts: Sequence[str],
             labels: np.ndarray) -> TokenizedSplit:
    rows: list[list[int]] = []
    for start in range(0, len(texts), CHUNK):
        rows.extend(encode(texts[start : start + CHUNK]))
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter((t for r in rows for t in r), dtype=np.int32, count=int(offsets[-1]))
    return TokenizedSplit(ids, offsets, labels.astype(np.int64))


def load(directory: Path) -> dict[str, TokenizedSplit] | None:
    """The splits cached in ``directory``, memory-mapped; ``None`` when there is no entry."""
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    return {
        split: TokenizedSplit(*(np.load(directory / f"{split}.{part}.npy", mmap_mode="r")
                                for part in ("ids", "offsets", "labels")))
        for split in meta["splits"]
    }


def save(directory: Path, splits: dict[str, TokenizedSplit], identity: dict[str, Any]) -> None:
    """Write an entry atomically: to a temporary directory first, renamed when complete."""
    try:
        with atomic.directory(directory) as tmp:
            for split, data in splits.items():
                for part in ("ids", "offsets", "labels"):
                    np.save(tmp / f"{split}.{part}.npy", getattr(data, part))
            meta = {"splits": list(splits), "rows": {s: len(d) for s, d in splits.items()},
                    "identity": identity}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    except OSError as exc:
        raise TextclfError(
            f"cannot write the token cache in {directory.parent}: {exc.strerror}; set "
            f"`cache_dir` or TEXTCLF_CACHE to a writable directory"
        ) from None
