"""The aclImdb layout, read from the archive or an extracted directory into a compact cache.

The archive is read as a stream, never extracted: the 50,000 labelled reviews go straight into
one UTF-8 blob per split with offsets, labels, ratings and review ids beside it, which loads in a
fraction of a second. Every member is checked on the way; an archive with a member that would
land outside its directory (an absolute path, ``..``, a link or a device) is refused whole.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from textclf import TextclfError, atomic_directory

LABELS = ("neg", "pos")
SPLITS = ("train", "test")
_REVIEW = re.compile(r"^(\d+)_(\d+)\.txt$")
FORMAT = 1


class ReviewsError(TextclfError):
    """An archive or directory that is not a usable aclImdb."""


@dataclass
class Reviews:
    """One split: texts with their label (0 neg, 1 pos), 1-10 star rating and review id."""

    texts: list[str]
    labels: np.ndarray
    ratings: np.ndarray
    ids: np.ndarray


Collected = dict[tuple[str, str], list[tuple[int, int, str]]]


def _empty() -> Collected:
    return {(split, label): [] for split in SPLITS for label in LABELS}


def _review(parts: tuple[str, ...]) -> tuple[str, str, int, int] | None:
    """(split, label, id, rating) for a review file's path parts below the root, else None."""
    if len(parts) != 3 or parts[0] not in SPLITS or parts[1] not in LABELS:
        return None
    match = _REVIEW.match(parts[2])
    return (parts[0], parts[1], int(match[1]), int(match[2])) if match else None


def read_archive(path: Path) -> dict[str, Reviews]:
    """Read the labelled reviews of an ``aclImdb_v1.tar.gz``, checking every member."""
    collected = _empty()
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                _check_member(member, path)
                parts = PurePosixPath(member.name).parts
                found = _review(parts[1:]) if parts and parts[0] == "aclImdb" else None
                if found and member.isfile():
                    handle = tar.extractfile(member)
                    assert handle is not None
                    text = _decode(handle.read(), f"{path}: {member.name}")
                    collected[found[:2]].append((found[2], found[3], text))
    except ReviewsError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise ReviewsError(
            f"{path}: cannot read the archive ({type(exc).__name__}: {exc}); it is corrupted or "
            f"truncated: delete it and run again to download it afresh, or pass a good copy "
            f"with `path`"
        ) from None
    return _assemble(collected, str(path))


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    name = member.name
    why = None
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        why = "is an absolute path"
    elif ".." in PurePosixPath(name).parts:
        why = "climbs out with '..'"
    elif member.issym() or member.islnk():
        why = f"is a link (to '{member.linkname}')"
    elif not (member.isfile() or member.isdir()):
        why = "is a device or pipe"
    if why:
        raise ReviewsError(
            f"{archive}: refusing the archive: member '{name}' {why} and would land outside its "
            f"directory; this is not a genuine aclImdb_v1.tar.gz"
        )


def read_directory(path: Path) -> dict[str, Reviews]:
    """Read the labelled reviews of an extracted ``aclImdb`` directory (or its parent)."""
    root = path if (path / "train").is_dir() or not (path / "aclImdb").is_dir() else path / "aclImdb"
    for split in SPLITS:
        for label in LABELS:
            if not (root / split / label).is_dir():
                raise ReviewsError(
                    f"{path}: not an aclImdb directory: {split}/{label} is missing; pass the "
                    f"aclImdb directory extracted from aclImdb_v1.tar.gz, or the archive itself"
                )
    real_root = root.resolve()
    collected = _empty()
    for split in SPLITS:
        for label in LABELS:
            with os.scandir(root / split / label) as entries:
                for entry in entries:
                    found = _review((split, label, entry.name))
                    if not found or not entry.is_file():
                        continue
                    file = Path(entry.path)
                    if entry.is_symlink() and real_root not in file.resolve().parents:
                        raise ReviewsError(f"{file}: refusing a link that points outside {root}")
                    collected[(split, label)].append(
                        (found[2], found[3], _decode(file.read_bytes(), str(file))))
    return _assemble(collected, str(path))


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReviewsError(f"{where}: not UTF-8 text (byte {exc.start}); the dataset is damaged") from None


def _assemble(collected: Collected, source: str) -> dict[str, Reviews]:
    out = {}
    for split in SPLITS:
        rows: list[tuple[int, int, int, str]] = []
        for label_index, label in enumerate(LABELS):
            found = sorted(collected[(split, label)])
            if not found:
                raise ReviewsError(f"{source}: {split}/{label} has no reviews; the dataset is incomplete")
            rows += [(label_index, review_id, rating, text) for review_id, rating, text in found]
        out[split] = Reviews(
            texts=[r[3] for r in rows],
            labels=np.array([r[0] for r in rows], dtype=np.int8),
            ratings=np.array([r[2] for r in rows], dtype=np.int8),
            ids=np.array([r[1] for r in rows], dtype=np.int32),
        )
    return out


# -- the compact cache ----------------------------------------------------------------------------
def save(directory: Path, reviews: dict[str, Reviews], source: dict[str, object]) -> None:
    """Write the parsed reviews atomically; a reader never sees a half-written cache."""
    try:
        with atomic_directory(directory) as tmp:
            for split, data in reviews.items():
                blobs = [t.encode("utf-8") for t in data.texts]
                offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
                np.cumsum([len(b) for b in blobs], out=offsets[1:])
                (tmp / f"{split}.texts").write_bytes(b"".join(blobs))
                np.save(tmp / f"{split}.offsets.npy", offsets)
                for part in ("labels", "ratings", "ids"):
                    np.save(tmp / f"{split}.{part}.npy", getattr(data, part))
            meta = {"format": FORMAT, "source": source,
                    "reviews": {s: len(r.texts) for s, r in reviews.items()}}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    except OSError as exc:
        raise ReviewsError(
            f"cannot write the IMDB cache in {directory.parent}: {exc.strerror}; set "
            f"`cache_dir` or TEXTCLF_CACHE to a writable directory"
        ) from None


def is_saved(directory: Path) -> bool:
    return (directory / "meta.json").is_file()


def load(directory: Path, split: str) -> Reviews:
    blob = (directory / f"{split}.texts").read_bytes()
    offsets = np.load(directory / f"{split}.offsets.npy")
    texts = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    parts = {p: np.load(directory / f"{split}.{p}.npy") for p in ("labels", "ratings", "ids")}
    return Reviews(texts, **parts)
