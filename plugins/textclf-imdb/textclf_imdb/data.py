"""The ``imdb`` data module: the Large Movie Review Dataset (Maas et al. 2011)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from textclf import BaseDataModule, DownloadError, Examples, OptionError, download, stratified_subset
from textclf_imdb import reviews as store

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
#: The published SHA-256 of aclImdb_v1.tar.gz (84,125,825 bytes).
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
log = logging.getLogger("textclf.imdb")


class IMDB(BaseDataModule):
    """IMDB movie reviews: 25,000 for training and 25,000 for testing, labelled neg or pos.

    Downloaded once into the cache directory, checked against its published SHA-256, and read
    once into a compact cache; later runs start from that cache. Validation is held out of the
    training reviews (val-fraction).

    Args:
        path: An aclImdb_v1.tar.gz you already have, or its extracted aclImdb directory; nothing is downloaded.
        url: Where to download aclImdb_v1.tar.gz from (a mirror, say).
        sha256: The SHA-256 the download must have.
        keep_html: Keep the reviews' HTML line breaks (<br />) instead of turning them into spaces.
        limit_train: Use a stratified sample of this many training reviews (a quick run).
        limit_test: Use a stratified sample of this many test reviews.
        retries: Download attempts after the first, with exponential backoff.
    """

    version = "1"

    def __init__(self, path: Path | None = None, url: str = URL, sha256: str = SHA256,
                 keep_html: bool = False, limit_train: int | None = None,
                 limit_test: int | None = None, retries: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for option, value in (("limit_train", limit_train), ("limit_test", limit_test)):
            if value is not None and value < 2:
                raise OptionError(f"`{option}` {value}: must be at least 2 (one per label)")
        self.path = Path(path).expanduser() if path else None
        self.url, self.sha256, self.keep_html = url, sha256.lower(), keep_html
        self.limits = {"train": limit_train, "test": limit_test}
        self.retries = retries
        self.reviews_dir: Path | None = None

    def prepare_data(self) -> None:
        """Download (unless given a path) and read the reviews into the cache, both only once."""
        if self.reviews_dir is not None:
            return
        source, identity = self._source()
        directory = self.cache_dir / "imdb" / "reviews" / identity
        if not store.is_saved(directory):
            log.info(f"imdb: reading {source} into {directory} (once)")
            parsed = store.read_archive(source) if source.is_file() else store.read_directory(source)
            store.save(directory, parsed, {"path": str(source), "identity": identity})
        self.reviews_dir = directory

    def _source(self) -> tuple[Path, str]:
        """The archive or directory to read, and a key that changes when its content does."""
        if self.path is not None:
            if not self.path.exists():
                raise OptionError(f"`path` {self.path}: no such file or directory")
            key = f"{self.path.resolve()}|{_content_key(self.path)}"
            return self.path, "path-" + hashlib.sha256(key.encode()).hexdigest()[:16]
        name = self.url.rstrip("/").rsplit("/", 1)[-1] or "aclImdb_v1.tar.gz"
        archive = self.cache_dir / "imdb" / "downloads" / f"{self.sha256[:16]}-{name}"
        if not archive.is_file():
            try:
                download(self.url, archive, sha256=self.sha256, retries=self.retries)
            except DownloadError as exc:
                if exc.offline:
                    raise DownloadError(
                        f"{exc}; without network, get {name} elsewhere and pass it, or the "
                        f"aclImdb directory inside it, with `path`", offline=True) from None
                raise
        return archive, "sha256-" + self.sha256[:16]

    def label_names(self) -> list[str]:
        return list(store.LABELS)

    def load_split(self, split: str) -> Examples | None:
        if split not in store.SPLITS:
            return None  # validation is held out of train by the base class
        reviews = self._reviews(split)
        texts = reviews.texts if self.keep_html else [_BREAK.sub(" ", t) for t in reviews.texts]
        return Examples(texts, reviews.labels.tolist())

    def ratings(self, split: str) -> list[int]:
        """The 1-10 star rating of each review of ``split``, in ``load_split``'s order."""
        return self._reviews(split).ratings.tolist()

    def _reviews(self, split: str) -> store.Reviews:
        self.prepare_data()
        assert self.reviews_dir is not None
        reviews = store.load(self.reviews_dir, split)
        limit = self.limits[split]
        if limit is not None and limit < len(reviews.texts):
            keep = stratified_subset(reviews.labels, limit, self.seed)
            reviews = store.Reviews([reviews.texts[i] for i in keep], reviews.labels[keep],
                                    reviews.ratings[keep], reviews.ids[keep])
        return reviews

    def fingerprint(self) -> Any:
        self.prepare_data()
        assert self.reviews_dir is not None
        return {"reviews": self.reviews_dir.name}


def _content_key(path: Path) -> str:
    """What changes when the reviews under ``path`` do: an archive's size and mtime, or, for a
    directory, the name, size and mtime of every review file in it (an edited review deep down
    changes nothing at the top)."""
    if path.is_file():
        stat = path.stat()
        return f"{stat.st_size}|{stat.st_mtime_ns}"
    files = sorted((f.name, f.size, f.mtime_ns) for f in store.scan_directory(path))
    return json.dumps(files, separators=(",", ":"))
