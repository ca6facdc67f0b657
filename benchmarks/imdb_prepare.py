"""IMDB preparation: archive to ready-to-train cache, and loading that cache again.

Generates an archive in the real aclImdb layout at full size (25,000 train + 25,000 test reviews
of IMDB-like length, plus 50,000 unlabelled ones as the real archive has), then times

- first preparation: reading the archive into the compact cache (what a first run pays after
  the download), with ``textclf_imdb.data.IMDB(path=ARCHIVE).prepare_data()`` and both splits
  loaded;
- later preparations: a fresh ``IMDB`` finding the cache, both splits loaded.

Targets on 2 cores: under 60 s first, under 2 s after.

    .venv/bin/python benchmarks/imdb_prepare.py [--workdir DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from textclf_imdb.data import IMDB
from textclf_imdb.synthetic import write_archive

FIRST_TARGET_S, AGAIN_TARGET_S = 60.0, 2.0


def prepare(archive: Path, cache: Path) -> tuple[float, int]:
    start = time.perf_counter()
    data = IMDB(path=archive, cache_dir=cache)
    data.prepare_data()
    rows = sum(len(data.load_split(split).texts) for split in ("train", "test"))
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the generated archive here")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-unsup", action="store_true", help="leave out the 50,000 unlabelled reviews")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="textclf-imdb-bench-"))
    archive = workdir / "aclImdb_v1.tar.gz"
    if not archive.exists():
        start = time.perf_counter()
        write_archive(archive, 12_500, unsup=0 if args.no_unsup else 50_000, seed=0)
        print(f"generated {archive} ({archive.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - start:.1f} s")
    cache = workdir / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    first, rows = prepare(archive, cache)
    again = [prepare(archive, cache)[0] for _ in range(args.repeat)]
    print(f"reviews: {rows:,}")
    print(f"first preparation (archive -> cache): {first:6.2f} s   target < {FIRST_TARGET_S:.0f} s   "
          f"{'ok' if first < FIRST_TARGET_S else 'SLOW'}")
    median = statistics.median(again)
    print(f"again (cache -> texts), median of {args.repeat}: {median:6.2f} s   target < "
          f"{AGAIN_TARGET_S:.0f} s   {'ok' if median < AGAIN_TARGET_S else 'SLOW'}")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
