"""The aclImdb layout, read from the archive or an extracted directory into a compact cache.

The archive is read as a stream, never extracted: the 50,000 labelled reviews go straight into
one UTF-8 blob per split with offsets, labels, ratings and review ids beside it, which loads in a
fraction of a second. Every member is checked on the way; an archive with a member that would
land outside its directory (an absolute path, ``..``, a link or a device) is refused whole, and so
is one that stops early: the gzip stream is read to its end and its CRC and length checked, and the
tar stream must end with its end-of-archive marker. A directory is read only from inside itself:
linked sub-directories, and linked reviews that lead out of it, are refused.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tarfile
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np

from textclf import TextclfError, atomic_directory

LABELS = ("neg", "pos")
SPLITS = ("train", "test")
_REVIEW = re.compile(r"^(\d+)_(\d+)\.txt$")
FORMAT = 1
#: The largest review file read. IMDB's reviews are all under 14 kB; this bound is generous, and
#: only there so that a damaged or crafted member is refused instead of read into memory.
MAX_REVIEW_BYTES = 1 << 20
#: Decompressed bytes tarfile asks for at a time (its own default, 10240, means more calls).
_CHUNK = 1 << 16


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
    """Read the labelled reviews of an ``aclImdb_v1.tar.gz``, checking every member and the ends
    of both the gzip and the tar stream."""
    collected = _empty()
    try:
        with path.open("rb") as raw:
            stream = _Inflated(raw)
            with tarfile.open(fileobj=stream, mode="r|", bufsize=_CHUNK) as tar:
                for member in tar:
                    _read_member(tar, member, path, collected)
                end = tar.offset  # where tarfile looked for the next header and found none
            _check_end(stream, end)
    except ReviewsError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise ReviewsError(
            f"{path}: cannot read the archive ({type(exc).__name__}: {exc}); it is corrupted or "
            f"truncated: delete it and run again to download it afresh, or pass a good copy "
            f"with `path`"
        ) from None
    return _assemble(collected, str(path))


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, archive: Path,
                 collected: Collected) -> None:
    """Check one member and, when it is a labelled review, add it to ``collected``."""
    _check_member(member, archive)
    parts = PurePosixPath(member.name).parts
    found = _review(parts[1:]) if parts and parts[0] == "aclImdb" else None
    if not (found and member.isfile()):
        return
    if member.size > MAX_REVIEW_BYTES:
        raise ReviewsError(
            f"{archive}: refusing the archive: member '{member.name}' is {member.size:,} bytes, over "
            f"the {MAX_REVIEW_BYTES:,}-byte limit for one review; this is not a genuine "
            f"aclImdb_v1.tar.gz"
        )
    handle = tar.extractfile(member)
    assert handle is not None
    text = _decode(handle.read(), f"{archive}: {member.name}")
    collected[found[:2]].append((found[2], found[3], text))


class _Inflated:
    """The decompressed bytes of a ``.tar.gz``, for tarfile to read as a plain tar stream.

    tarfile's own gzip reader never checks gzip's CRC and length trailer and takes the end of
    the data for the end of the archive, so a cut or damaged archive would read as a smaller
    one. gzip.GzipFile checks the trailer; its complaints are turned into tarfile's ReadError so
    that every damaged archive reads alike. The latest bytes are kept so that the end of the
    tar stream, which tarfile has already consumed, can still be checked.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self._recent: deque[bytes] = deque()
        self._recent_start = 0
        self._recent_size = 0

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` decompressed bytes; raises tarfile.ReadError on a damaged gzip stream."""
        data = self._inflate(size)
        self._recent.append(data)
        self._recent_size += len(data)
        # tarfile reads ahead by less than one chunk and a header; keep twice that and more
        while self._recent_size - len(self._recent[0]) >= 2 * _CHUNK + 2 * tarfile.BLOCKSIZE:
            dropped = self._recent.popleft()
            self._recent_start += len(dropped)
            self._recent_size -= len(dropped)
        return data

    def _inflate(self, size: int) -> bytes:
        try:
            return self._gzip.read(size)
        except EOFError:
            raise tarfile.ReadError("unexpected end of data") from None
        except gzip.BadGzipFile as exc:
            raise tarfile.ReadError(str(exc)) from None
        except zlib.error as exc:
            raise tarfile.ReadError(f"zlib error: {exc}") from None

    def at(self, offset: int, size: int) -> bytes:
        """The (up to) ``size`` bytes from ``offset`` on, reading further when needed."""
        while self._recent_start + self._recent_size < offset + size and self.read(_CHUNK):
            pass
        start = offset - self._recent_start
        if start < 0:  # a bug, not a bad archive: tarfile read further ahead than it ever did
            raise RuntimeError(f"byte {offset} of the tar stream is no longer kept")
        return b"".join(self._recent)[start:start + size]

    def drain(self) -> None:
        """Read to the end of the gzip stream, which checks its CRC and length."""
        while self._inflate(1 << 20):
            pass


def _check_end(stream: _Inflated, offset: int) -> None:
    """Refuse a tar stream without its end-of-archive marker (two zero blocks) at ``offset``,
    after reading the gzip stream to its end."""
    marker = stream.at(offset, 2 * tarfile.BLOCKSIZE)
    stream.drain()
    if marker.strip(b"\0"):
        raise tarfile.ReadError(f"invalid header at byte {offset}")
    if len(marker) < 2 * tarfile.BLOCKSIZE:
        raise tarfile.ReadError("unexpected end of data")


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


@dataclass(frozen=True)
class ReviewFile:
    """One review file of an extracted aclImdb directory, with what its cache key needs."""

    split: str
    label: str
    id: int
    rating: int
    path: Path
    name: str  # relative to the aclImdb root, with '/'
    size: int
    mtime_ns: int


def scan_directory(path: Path) -> list[ReviewFile]:
    """The labelled review files of an extracted ``aclImdb`` directory (or its parent), refusing
    linked sub-directories, linked reviews that lead out of it, and oversized reviews."""
    root = path if (path / "train").is_dir() or not (path / "aclImdb").is_dir() else path / "aclImdb"
    for split in SPLITS:
        for label in LABELS:
            if not (root / split / label).is_dir():
                raise ReviewsError(
                    f"{path}: not an aclImdb directory: {split}/{label} is missing; pass the "
                    f"aclImdb directory extracted from aclImdb_v1.tar.gz, or the archive itself"
                )
    # the root itself may be a link (the user chose it); below it, everything must be inside it
    real_root = root.resolve()
    files = []
    for split in SPLITS:
        _refuse_linked_directory(root / split, root)
        for label in LABELS:
            _refuse_linked_directory(root / split / label, root)
            files += _scan_folder(root, split, label, real_root)
    return files


def _refuse_linked_directory(folder: Path, root: Path) -> None:
    if folder.is_symlink():
        raise ReviewsError(
            f"{folder}: refusing a directory that is a link (to '{os.readlink(folder)}'); the "
            f"reviews must be inside {root}: copy them there instead of linking them"
        )


def _scan_folder(root: Path, split: str, label: str, real_root: Path) -> list[ReviewFile]:
    """The review files of ``root/split/label``, each checked."""
    files = []
    with os.scandir(root / split / label) as entries:
        for entry in entries:
            found = _review((split, label, entry.name))
            if not found or not entry.is_file():
                continue
            file = Path(entry.path)
            if entry.is_symlink() and real_root not in file.resolve().parents:
                raise ReviewsError(f"{file}: refusing a link that points outside {root}; copy the "
                                   f"file there instead of linking it")
            stat = entry.stat()
            if stat.st_size > MAX_REVIEW_BYTES:
                raise ReviewsError(
                    f"{file}: refusing a review of {stat.st_size:,} bytes, over the "
                    f"{MAX_REVIEW_BYTES:,}-byte limit for one review; this is not an aclImdb "
                    f"review: remove it, or pass a genuine aclImdb directory with `path`"
                )
            files.append(ReviewFile(split, label, found[2], found[3], file,
                                    f"{split}/{label}/{entry.name}", stat.st_size, stat.st_mtime_ns))
    return files


def read_directory(path: Path) -> dict[str, Reviews]:
    """Read the labelled reviews of an extracted ``aclImdb`` directory (or its parent)."""
    collected = _empty()
    for review in scan_directory(path):
        text = _decode(review.path.read_bytes(), str(review.path))
        collected[(review.split, review.label)].append((review.id, review.rating, text))
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
