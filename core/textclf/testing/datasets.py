"""Synthetic data: a small two-class task any working pipeline learns to well over 90%."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

POSITIVE = ("good", "great", "fine", "superb", "lovely", "brilliant")
NEGATIVE = ("bad", "awful", "poor", "dreadful", "boring", "terrible")
FILLER = tuple(f"word{i}" for i in range(200))


def separable_texts(n: int, seed: int = 0, min_words: int = 4,
                    max_words: int = 40) -> list[tuple[str, str]]:
    """``n`` (text, label) pairs, labels pos/neg, told apart by a few sentiment words."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = [rng.choice(FILLER) for _ in range(rng.randint(min_words, max_words))]
        for _ in range(2):
            words.insert(rng.randrange(len(words) + 1),
                         rng.choice(POSITIVE if label == "pos" else NEGATIVE))
        rows.append((" ".join(words), label))
    rng.shuffle(rows)
    return rows


def write_separable_dataset(directory: Path, train: int = 400, test: int = 100,
                            fmt: str = "csv", seed: int = 0) -> dict[str, Path]:
    """Write train and test files of a separable task; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n, split_seed in (("train", train, seed), ("test", test, seed + 1)):
        path = directory / f"{split}.{fmt}"
        write_rows(path, separable_texts(n, split_seed))
        paths[split] = path
    return paths


def write_rows(path: Path, rows: Sequence[tuple[str, Any]], text_column: str = "text",
               label_column: str = "label") -> None:
    """Write (text, label) rows as CSV, TSV or JSONL, by the file's extension."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({text_column: t, label_column: y}) + "\n" for t, y in rows))
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        writer.writerow([text_column, label_column])
        writer.writerows(rows)
