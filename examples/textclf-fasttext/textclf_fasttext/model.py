"""The ``fasttext`` model (Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification").

A text is the average of the embeddings of its words and of its word n-grams; a linear layer maps
that average to the labels. Word ids come from a word-level tokenizer built on the training texts;
n-gram ids are hashed into ``buckets`` rows from the word ids inside ``forward``, so that the
exported ONNX model needs nothing but token ids and runs in textclf's runtime like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from torch import nn

from textclf import BaseModel, OptionError, Truncation

PAD, UNK = "[PAD]", "[UNK]"
#: Multipliers of the n-gram hash; primes keep (a, b) and (b, a) apart.
_PRIMES = (1, 116_049_371, 2_750_159, 7_919)


def word_tokenizer(texts: Sequence[str], vocab_size: int, min_frequency: int) -> Tokenizer:
    """Lower-cased words and punctuation, the ``vocab_size`` most frequent of the training texts."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Replace("<br />", " "), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=[PAD, UNK], show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


class FastText(BaseModel):
    """Averaged word and word n-gram embeddings, then a linear layer.

    Args:
        dim: Embedding size.
        ngrams: Longest word n-gram embedded (1: words only; 2: words and bigrams, fastText's IMDB setting).
        buckets: Rows of the hashed n-gram table.
        vocab_size: Most words kept from the training texts.
        min_frequency: Fewest occurrences for a word to be kept.
        max_length: Most tokens read from a text.
        truncation: Which tokens a long text keeps: head, tail or head+tail.
        tokenizer: A tokenizer.json to use instead of building one from the training texts.
    """

    def __init__(self, labels: Sequence[str], train_texts: Sequence[str] | None = None,
                 dim: int = 64, ngrams: int = 2, buckets: int = 200_000, vocab_size: int = 100_000,
                 min_frequency: int = 2, max_length: int = 2048, truncation: Truncation = "head",
                 tokenizer: Path | None = None) -> None:
        if not 1 <= ngrams <= len(_PRIMES):
            raise OptionError(f"`ngrams` {ngrams}: choose 1 to {len(_PRIMES)}")
        if tokenizer is not None:
            built = Tokenizer.from_file(str(tokenizer))
        elif train_texts is not None:
            built = word_tokenizer(train_texts, vocab_size, min_frequency)
        else:
            raise OptionError("FastText needs the training texts or `tokenizer`")
        super().__init__(labels, built, max_length, truncation)
        self.words, self.ngrams, self.buckets = built.get_vocab_size(), ngrams, buckets
        self.embedding = nn.Embedding(self.words + (buckets if ngrams > 1 else 0), dim)
        # Unit-scale rows (not fastText's +-1/dim): averaged over hundreds of tokens, tiny rows
        # leave batched SGD on a long plateau before it learns anything.
        nn.init.normal_(self.embedding.weight, std=dim ** -0.5)
        self.head = nn.Linear(dim, len(labels))

    @classmethod
    def suggested_options(cls, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Five epochs of batches of 64, whatever the options."""
        return {"trainer": {"max_epochs": 5}, "data": {"batch_size": 64}}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ids, mask = [input_ids], [attention_mask]
        for n in range(2, self.ngrams + 1):
            width = input_ids.shape[1] - n + 1
            hashed = input_ids[:, :width] * _PRIMES[0]
            both = attention_mask[:, :width]
            for k in range(1, n):
                hashed = hashed + input_ids[:, k : k + width] * _PRIMES[k]
                both = both * attention_mask[:, k : k + width]
            ids.append(self.words + torch.remainder(hashed, self.buckets))
            mask.append(both)
        tokens, weights = torch.cat(ids, dim=1), torch.cat(mask, dim=1).unsqueeze(-1).float()
        summed = (self.embedding(tokens) * weights).sum(dim=1)
        return self.head(summed / weights.sum(dim=1).clamp(min=1.0))
