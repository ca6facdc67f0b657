"""fastText next to DistilBERT on IMDB-format data: training time and test accuracy.

Reviews in the real aclImdb layout, generated locally (``textclf_imdb.synthetic``; made-up words,
IMDB-like lengths, a few sentiment words per review). Two comparisons, each through the CLI:

- full size, 25,000 training and 25,000 test reviews: the ``fasttext`` model with the
  ``fasttext-sgd`` regime (examples/configs/imdb-fasttext.yaml), on the CPU;
- a 2,000-review training subset (1,000 test), where a small DistilBERT built from scratch (dim
  128, 2 layers, 3 epochs) also trains on a CPU: both models side by side.

Printed for each: training time (the training loop), wall time of the whole ``textclf train``
(tokenization and evaluation included) and test accuracy.

    .venv/bin/python benchmarks/fasttext_imdb.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textclf_imdb.synthetic import write_archive

TEXTCLF = str(Path(sys.executable).with_name("textclf"))
CONFIG = Path(__file__).parents[1] / "examples" / "configs" / "imdb-fasttext.yaml"
DISTILBERT = ["--model", "distilbert", "--model.pretrained", "false", "--model.dim", "128",
              "--model.layers", "2", "--model.heads", "2", "--model.vocab-size", "8000",
              "--model.max-length", "512", "--lit-model", "classifier", "--lit-model.lr", "1e-3",
              "--data.batch-size", "16", "--max-epochs", "3"]


def train(name: str, work: Path, archive: Path, args: list[str]) -> dict[str, float]:
    run = work / name
    command = [TEXTCLF, "train", "--data.path", str(archive), "--data.cache-dir", str(work / "cache"),
               *args, "--no-progress", "--run-dir", str(run), "--overwrite"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    metrics = json.loads((run / "metrics.json").read_text())
    return {"train_s": metrics["train_seconds"], "wall_s": wall, "acc": metrics["test"]["acc"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="textclf-fasttext-"))
    archive = work / "aclImdb_v1.tar.gz"
    if not archive.exists():
        write_archive(archive, 12_500, seed=0)
    fasttext = ["--config", str(CONFIG)]
    subset = ["--data.limit-train", "2000", "--data.limit-test", "1000"]
    rows = [
        ("fastText, 25,000 reviews", train("fasttext-full", work, archive, fasttext)),
        ("fastText, 2,000 reviews", train("fasttext-subset", work, archive, fasttext + subset)),
        ("DistilBERT small, 2,000", train("distilbert-subset", work, archive,
                                          ["--data", "imdb", *DISTILBERT, *subset])),
    ]
    print(f"{'model, training reviews':<28} {'train s':>8} {'wall s':>8} {'test acc':>9}")
    for name, result in rows:
        print(f"{name:<28} {result['train_s']:>8.1f} {result['wall_s']:>8.1f} {result['acc']:>9.4f}")


if __name__ == "__main__":
    main()
