"""Archives in the real aclImdb layout, made up locally: for tests and benchmarks, no network.

Reviews have IMDB-like lengths (log-normal, about 230 words on average with a long tail), HTML
line breaks between sentences, ratings 1-4 for neg and 7-10 for pos, and a learnable signal: a
few sentiment words, most of them agreeing with the label.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

POSITIVE = ("wonderful", "superb", "moving", "brilliant", "delightful", "masterful", "gripping")
NEGATIVE = ("dreadful", "boring", "clumsy", "tedious", "awful", "lifeless", "pointless")
FILLER = tuple(f"w{i}" for i in range(3000)) + ("the", "a", "film", "movie", "plot", "actor")


@dataclass
class Member:
    """An extra archive member: a file with ``data``, or a ``symlink``/``hardlink`` to ``target``."""

    name: str
    kind: str = "file"
    data: bytes = b""
    target: str = ""


def review_texts(n: int, label: int, rng: np.random.Generator, mean_words: float = 230.0,
                 signal: float = 0.85, cues: int = 3) -> list[str]:
    """``n`` reviews of class ``label`` (0 neg, 1 pos), each with ``cues`` sentiment words that
    agree with the label with probability ``signal``."""
    sigma = 0.75
    mu = np.log(mean_words) - sigma**2 / 2
    lengths = np.clip(rng.lognormal(mu, sigma, size=n), 10, 2500).astype(int)
    filler = np.array(FILLER)
    texts = []
    for length in lengths:
        words = filler[rng.integers(0, len(filler), size=length)].tolist()
        for _ in range(cues):
            agree = rng.random() < signal
            pool = POSITIVE if (label == 1) == agree else NEGATIVE
            words.insert(int(rng.integers(0, len(words) + 1)), pool[int(rng.integers(len(pool)))])
        for cut in sorted(rng.integers(1, len(words), size=len(words) // 40), reverse=True):
            words.insert(int(cut), ".<br /><br />")
        texts.append(" ".join(words).replace(" .<br /><br /> ", ".<br /><br />"))
    return texts


def write_archive(path: str | Path, reviews_per_class: int = 50, *, test_per_class: int | None = None,
                  unsup: int = 0, seed: int = 0, mean_words: float = 230.0, cues: int = 3,
                  extra: Sequence[Member] = ()) -> str:
    """Write an aclImdb_v1.tar.gz look-alike to ``path``; returns its SHA-256. ``cues``: the
    sentiment words per review (more: an easier task)."""
    path = Path(path)
    rng = np.random.default_rng(seed)
    test_per_class = reviews_per_class if test_per_class is None else test_per_class
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz", compresslevel=6) as tar:
        def add(name: str, data: bytes | None = None) -> None:
            info = tarfile.TarInfo(name)
            info.mtime = 1_300_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))

        add("aclImdb")
        add("aclImdb/README", b"Large Movie Review Dataset v1.0 (synthetic stand-in)\n")
        add("aclImdb/imdb.vocab", "\n".join(FILLER[:100]).encode())
        next_id = 0
        for split, per_class in (("train", reviews_per_class), ("test", test_per_class)):
            add(f"aclImdb/{split}")
            add(f"aclImdb/{split}/labeledBow.feat", b"0 0:1\n")
            for label, name in ((0, "neg"), (1, "pos")):
                add(f"aclImdb/{split}/{name}")
                ratings = rng.integers(1, 5, per_class) if label == 0 else rng.integers(7, 11, per_class)
                texts = review_texts(per_class, label, rng, mean_words, cues=cues)
                for text, rating in zip(texts, ratings):
                    add(f"aclImdb/{split}/{name}/{next_id}_{rating}.txt", text.encode())
                    next_id += 1
        if unsup:
            add("aclImdb/train/unsup")
            for i, text in enumerate(review_texts(unsup, int(rng.integers(2)), rng, mean_words, cues=cues)):
                add(f"aclImdb/train/unsup/{i}_0.txt", text.encode())
        for member in extra:
            info = tarfile.TarInfo(member.name)
            if member.kind == "file":
                info.size = len(member.data)
                tar.addfile(info, io.BytesIO(member.data))
            else:
                info.type = tarfile.SYMTYPE if member.kind == "symlink" else tarfile.LNKTYPE
                info.linkname = member.target
                tar.addfile(info)
    return hashlib.sha256(path.read_bytes()).hexdigest()
