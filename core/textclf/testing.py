"""Test helpers for textclf and its plugins: a tiny model, synthetic data, throwaway plugins.

``TinyModel`` follows the model contract and trains in seconds on a CPU, so a data plugin's tests
can run a real training step without downloading anything. ``write_separable_dataset`` writes
a small two-class task that any working pipeline learns to well over 90% accuracy.
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from torch import nn

from textclf.models.base import BaseModel
from textclf.text import Truncation

#: Raise KeyboardInterrupt after this many training steps: how tests interrupt a run.
INTERRUPT_ENV = "TEXTCLF_TEST_INTERRUPT_AFTER"


def word_tokenizer(texts: Sequence[str], vocab_size: int = 2000) -> Tokenizer:
    """A lower-cased word-level tokenizer with ``[PAD]`` and ``[UNK]``, trained on ``texts``."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=["[PAD]", "[UNK]"])
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


class TinyModel(BaseModel):
    """Mean of word embeddings, then a linear layer: a tiny model for tests.

    Args:
        dim: Embedding size.
        max_length: Longest input, in tokens.
        truncation: Which tokens a long text keeps: head, tail or head+tail.
        vocab_size: Largest vocabulary of the tokenizer built from the training texts.
        tokenizer: A tokenizer.json to use instead of building one.
    """

    SUGGESTED_OPTIONS = {"lit_model": {"lr": 0.05}, "trainer": {"max_epochs": 5}}

    def __init__(self, labels: Sequence[str], train_texts: Sequence[str] | None = None,
                 tokenizer: Path | None = None, dim: int = 16, max_length: int = 64,
                 truncation: Truncation = "head", vocab_size: int = 2000) -> None:
        if tokenizer is not None:
            built = Tokenizer.from_file(str(tokenizer))
        elif train_texts is not None:
            built = word_tokenizer(train_texts, vocab_size)
        else:
            raise ValueError("TinyModel needs train_texts or a tokenizer")
        super().__init__(labels, built, max_length, truncation)
        self.embedding = nn.Embedding(built.get_vocab_size(), dim)
        self.head = nn.Linear(dim, len(labels))
        self._interrupt_after = int(os.environ.get(INTERRUPT_ENV, "0") or 0)
        self._steps = 0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.training and self._interrupt_after:
            self._steps += 1
            if self._steps > self._interrupt_after:
                raise KeyboardInterrupt
        mask = attention_mask.unsqueeze(-1).to(self.embedding.weight.dtype)
        pooled = (self.embedding(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled)


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
