"""Synthetic data: a small task of two or more classes any working pipeline learns to well over 90%."""

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
#: Beyond two classes, each class is a topic told apart by its own words.
TOPICS = {
    "sport": ("goal", "match", "referee", "league", "striker", "penalty"),
    "science": ("atom", "theory", "experiment", "molecule", "physics", "laboratory"),
    "music": ("guitar", "melody", "chorus", "concert", "album", "drummer"),
    "politics": ("election", "senate", "minister", "ballot", "policy", "parliament"),
    "food": ("recipe", "garlic", "oven", "pastry", "spices", "dessert"),
    "travel": ("airport", "passport", "hostel", "itinerary", "luggage", "voyage"),
    "weather": ("rain", "forecast", "storm", "humidity", "drizzle", "sunshine"),
    "finance": ("stocks", "dividend", "inflation", "mortgage", "bonds", "budget"),
}


def class_words(classes: int = 2) -> dict[str, tuple[str, ...]]:
    """The labels of a ``classes``-class task and the words that signal each: pos/neg for two,
    topics (sport, science, ...) for three to eight."""
    if classes == 2:
        return {"pos": POSITIVE, "neg": NEGATIVE}
    if not 3 <= classes <= len(TOPICS):
        raise ValueError(f"classes {classes}: choose 2 to {len(TOPICS)}")
    return dict(list(TOPICS.items())[:classes])


def separable_texts(n: int, seed: int = 0, min_words: int = 4, max_words: int = 40,
                    classes: int = 2) -> list[tuple[str, str]]:
    """``n`` (text, label) pairs, told apart by a few words of their class: labels pos/neg for
    two classes, topics (sport, science, music, ...) for three to eight. Classes take turns, so
    every class has ``n // classes`` or one more."""
    rng = random.Random(seed)
    signals = class_words(classes)
    labels = list(signals)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        words = [rng.choice(FILLER) for _ in range(rng.randint(min_words, max_words))]
        for _ in range(2):
            words.insert(rng.randrange(len(words) + 1), rng.choice(signals[label]))
        rows.append((" ".join(words), label))
    rng.shuffle(rows)
    return rows


def write_separable_dataset(directory: Path, train: int = 400, test: int = 100,
                            fmt: str = "csv", seed: int = 0, classes: int = 2) -> dict[str, Path]:
    """Write train and test files of a separable task; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n, split_seed in (("train", train, seed), ("test", test, seed + 1)):
        path = directory / f"{split}.{fmt}"
        write_rows(path, separable_texts(n, split_seed, classes=classes))
        paths[split] = path
    return paths


def write_rows(path: Path | str, rows: Sequence[tuple[str, Any]], text_column: str = "text",
               label_column: str = "label") -> None:
    """Write (text, label) rows as CSV, TSV or JSONL, by the file's extension."""
    path = Path(path)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({text_column: t, label_column: y}) + "\n" for t, y in rows))
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        writer.writerow([text_column, label_column])
        writer.writerows(rows)


def multi_label_texts(n: int, seed: int = 0, labels: int = 5, most: int = 3, min_words: int = 4,
                      max_words: int = 30) -> list[tuple[str, list[str]]]:
    """``n`` (text, label set) pairs of a multi-label task over ``labels`` topics: each text
    carries 0 to ``most`` of them, each signalled by two of its words among filler."""
    rng = random.Random(seed)
    signals = class_words(labels)
    names = list(signals)
    rows = []
    for _ in range(n):
        chosen = sorted(rng.sample(names, rng.randint(0, most)), key=names.index)
        words = [rng.choice(FILLER) for _ in range(rng.randint(min_words, max_words))]
        for label in chosen:
            for _ in range(2):
                words.insert(rng.randrange(len(words) + 1), rng.choice(signals[label]))
        rows.append((" ".join(words), chosen))
    return rows


def write_multi_label_dataset(directory: Path, train: int = 600, test: int = 150, fmt: str = "jsonl",
                              seed: int = 0, labels: int = 5, delimiter: str = ";") -> dict[str, Path]:
    """Write train and test files of a multi-label task: JSON lists of labels in .jsonl, one cell
    joined by ``delimiter`` in .csv/.tsv; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n, split_seed in (("train", train, seed), ("test", test, seed + 1)):
        path = directory / f"{split}.{fmt}"
        rows = multi_label_texts(n, split_seed, labels)
        write_rows(path, rows if fmt == "jsonl" else [(t, delimiter.join(y)) for t, y in rows])
        paths[split] = path
    return paths
