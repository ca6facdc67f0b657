"""``TinyModel``: follows the model contract and trains in seconds on a CPU, so that a data
plugin's tests can run a real training step without downloading anything."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from torch import nn

from textclf.models.base import BaseModel
from textclf.text import Truncation
from textclf.training.callbacks import INTERRUPT_ENV  # noqa: F401 (textclf.testing's)


def word_tokenizer(texts: Sequence[str], vocab_size: int = 2000) -> Tokenizer:
    """A lower-cased word-level tokenizer with ``[PAD]`` and ``[UNK]``, trained on ``texts``."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=["[PAD]", "[UNK]"],
                                        show_progress=False)
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
        dropout: Dropout on the pooled vector (training then draws random numbers).
    """

    def __init__(self, labels: Sequence[str], train_texts: Sequence[str] | None = None,
                 tokenizer: Path | None = None, dim: int = 16, max_length: int = 64,
                 truncation: Truncation = "head", vocab_size: int = 2000,
                 dropout: float = 0.0) -> None:
        if tokenizer is not None:
            built = Tokenizer.from_file(str(tokenizer))
        elif train_texts is not None:
            built = word_tokenizer(train_texts, vocab_size)
        else:
            raise ValueError("TinyModel needs train_texts or a tokenizer")
        super().__init__(labels, built, max_length, truncation)
        self.embedding = nn.Embedding(built.get_vocab_size(), dim)
        self.head = nn.Linear(dim, len(labels))
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def suggested_options(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {"lit_model": {"lr": 0.05}, "trainer": {"max_epochs": 5}}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.pool(input_ids, attention_mask)))

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The mean of the text's word embeddings."""
        mask = attention_mask.unsqueeze(-1).to(self.embedding.weight.dtype)
        return (self.embedding(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
