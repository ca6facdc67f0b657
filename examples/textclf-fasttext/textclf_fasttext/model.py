"""The ``fasttext`` model (Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification").

A text is the mean of the embeddings of its words and of its word n-grams; a linear layer maps
that mean to the labels. Words are what fastText reads: the text split on whitespace, punctuation
left attached, case kept unless ``lowercase`` is set, every word of the training texts kept
(``min_frequency`` 1). N-gram ids are hashed into ``buckets`` rows from the word ids inside
``forward``, so that the exported ONNX model needs nothing but token ids and runs in textclf's
runtime like any other.
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
#: The vocabulary size asked of the trainer when every word is kept.
_ALL_WORDS = 2**31 - 1


def word_tokenizer(texts: Sequence[str], vocab_size: int | None, min_frequency: int,
                   lowercase: bool) -> Tokenizer:
    """fastText's words: whitespace-separated, punctuation attached; the ``vocab_size`` most
    frequent of the training texts (all of them: None) seen at least ``min_frequency`` times."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    steps = [normalizers.Replace("<br />", " ")]  # IMDB's line breaks, should a text still have them
    if lowercase:
        steps.append(normalizers.Lowercase())
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size or _ALL_WORDS, min_frequency=min_frequency,
                                        special_tokens=[PAD, UNK], show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


class FastText(BaseModel):
    """The mean of word and hashed word n-gram embeddings, then a linear layer.

    Initialised as fastText does: embedding rows uniform in +-1/dim, the output layer at zero.
    Words the tokenizer does not know ([UNK]) are left out of the mean, as fastText drops them.

    Args:
        dim: Embedding size.
        ngrams: Longest word n-gram embedded (1: words only; 2: words and bigrams, fastText's IMDB setting).
        buckets: Rows of the hashed n-gram table.
        vocab_size: Most words kept from the training texts (none: all of them).
        min_frequency: Fewest occurrences for a word to be kept.
        lowercase: Lower-case texts before splitting them into words.
        max_length: Most words read from a text.
        truncation: Which words a long text keeps: head, tail or head+tail.
        tokenizer: A tokenizer.json to use instead of building one from the training texts.
    """

    def __init__(self, labels: Sequence[str], train_texts: Sequence[str] | None = None,
                 dim: int = 50, ngrams: int = 2, buckets: int = 200_000, vocab_size: int | None = None,
                 min_frequency: int = 1, lowercase: bool = False, max_length: int = 4096,
                 truncation: Truncation = "head", tokenizer: Path | None = None) -> None:
        if not 1 <= ngrams <= len(_PRIMES):
            raise OptionError(f"`ngrams` {ngrams}: choose 1 to {len(_PRIMES)}")
        for option, value in (("dim", dim), ("buckets", buckets), ("min_frequency", min_frequency)):
            if value < 1:
                raise OptionError(f"`{option}` {value}: must be at least 1")
        if vocab_size is not None and vocab_size < 3:
            raise OptionError(f"`vocab_size` {vocab_size}: must be at least 3 (or none: every word)")
        if tokenizer is not None:
            built = Tokenizer.from_file(str(tokenizer))
        elif train_texts is not None:
            built = word_tokenizer(train_texts, vocab_size, min_frequency, lowercase)
        else:
            raise OptionError("FastText needs the training texts or `tokenizer`")
        super().__init__(labels, built, max_length, truncation)
        self.words, self.ngrams, self.buckets = built.get_vocab_size(), ngrams, buckets
        self.unk = built.token_to_id(UNK)
        rows = self.words + (buckets if ngrams > 1 else 0)
        # Given its weight, nn.Embedding skips its own N(0, 1) initialisation of millions of rows.
        self.embedding = nn.Embedding(rows, dim, _weight=torch.empty(rows, dim).uniform_(-1.0 / dim, 1.0 / dim))
        self.head = nn.Linear(dim, len(labels), bias=False)
        nn.init.zeros_(self.head.weight)

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
        if self.unk is not None:  # unknown words are dropped; n-grams they are part of stay
            mask[0] = attention_mask * (input_ids != self.unk)
        tokens, weights = torch.cat(ids, dim=1), torch.cat(mask, dim=1).float()
        weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
        if self.training:  # one fused kernel, and the sparse gradient straight from it
            mean = nn.functional.embedding_bag(tokens, self.embedding.weight, per_sample_weights=weights,
                                               mode="sum", sparse=self.embedding.sparse)
        else:  # the same sum as a gather, which ONNX has (embedding_bag exports as a loop)
            mean = (self.embedding(tokens) * weights.unsqueeze(-1)).sum(dim=1)
        return self.head(mean)
