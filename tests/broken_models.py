"""Models that break the model contract in the ways that once slipped past the kit, each
otherwise healthy: they train, save and load. The kit's own tests (test_kit.py) check that
``check_model`` and ``check_export`` fail each with one sentence naming the problem."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from torch import nn
from torch.nn import functional as F

from textclf.testing.models import TinyModel


class FixedWidthHead(TinyModel):
    """Its head has two outputs whatever the labels: fine on pos/neg, wrong on four classes."""

    def __init__(self, labels: Sequence[str], train_texts: Sequence[str] | None = None,
                 tokenizer: Path | None = None, dim: int = 16) -> None:
        super().__init__(labels, train_texts, tokenizer, dim=dim)
        self.head = nn.Linear(dim, 2)


class UnmaskedPooling(TinyModel):
    """Averages every position, padding included: a text's logits depend on its batch."""

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.embedding(input_ids).mean(1)


class WideKernel(TinyModel):
    """A convolution five tokens wide over an unpadded sequence: a text under five tokens fails."""

    def __init__(self, labels: Sequence[str], train_texts: Sequence[str] | None = None,
                 tokenizer: Path | None = None, dim: int = 16) -> None:
        super().__init__(labels, train_texts, tokenizer, dim=dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size=5)

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).to(self.embedding.weight.dtype)
        features = F.relu(self.conv((self.embedding(input_ids) * mask).transpose(1, 2)))
        return features.max(dim=2).values


class ShuffledVocabulary(TinyModel):
    """Numbers its words in an order drawn from unseeded randomness, as a tokenizer trainer that
    breaks ties by hash or thread order does: two builds from the same texts disagree."""

    def __init__(self, labels: Sequence[str], train_texts: Sequence[str] | None = None,
                 tokenizer: Path | None = None, dim: int = 16) -> None:
        if tokenizer is None and train_texts is not None:
            words = sorted({w for text in train_texts for w in text.lower().split()})
            random.SystemRandom().shuffle(words)
            vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", *words])}
            built = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
            built.normalizer = normalizers.Lowercase()
            built.pre_tokenizer = pre_tokenizers.Whitespace()
            directory = Path(__import__("tempfile").mkdtemp())
            built.save(str(directory / "tokenizer.json"))
            tokenizer, train_texts = directory / "tokenizer.json", None
        super().__init__(labels, train_texts, tokenizer, dim=dim)


class ItemInForward(TinyModel):
    """Branches in Python on a tensor's value, which a traced export cannot follow."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        pooled = self.pool(input_ids, attention_mask)
        if pooled.abs().sum().item() > 1e9:
            pooled = pooled / 2
        return self.head(pooled)
