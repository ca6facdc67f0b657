"""Text to token ids, identically in training and at runtime; needs only ``tokenizers``.

A text is tokenized without special tokens, cut to fit ``max_length`` by the truncation strategy,
then wrapped in the tokenizer's own special tokens (``[CLS] ... [SEP]`` for BERT, ``<s> ... </s>``
for RoBERTa, nothing for a plain word-level tokenizer):

- ``head`` keeps the beginning of the text,
- ``tail`` keeps the end,
- ``head+tail`` keeps the first quarter of the budget from the beginning and the rest from the end.
  On long reviews this scores best (Sun et al. 2019, "How to Fine-Tune BERT for Text
  Classification": 128 head + 382 tail tokens out of 510).

Before tokenizing, a very long text is cut to a generous number of characters at the end(s) the
strategy keeps (``CHARS_PER_TOKEN``), so that a 20 MB text costs no more than a long review.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from tokenizers import Tokenizer

Truncation = Literal["head", "tail", "head+tail"]
TRUNCATIONS: tuple[str, ...] = ("head", "tail", "head+tail")
#: Share of the budget that ``head+tail`` gives to the beginning of the text.
HEAD_SHARE = 0.25
#: A text longer than ``max_length * CHARS_PER_TOKEN`` characters is cut to that many before it
#: is tokenized, from the end(s) truncation keeps tokens from: a tokenizer needs some 70 bytes
#: per character (1.4 GB for a 20 MB line), and no realistic text averages 32 characters a token
#: (English: ~4), so the kept tokens are those of the whole text.
CHARS_PER_TOKEN = 32


def special_tokens(tokenizer: Tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer's post-processor puts before and after a single text."""
    probe = "textclf"
    bare = tokenizer.encode(probe, add_special_tokens=False).ids
    full = tokenizer.encode(probe, add_special_tokens=True).ids
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    raise ValueError("cannot locate the text inside the tokenizer's special-token template")


def truncate(ids: Sequence[int], budget: int, truncation: str) -> list[int]:
    """Cut ``ids`` to at most ``budget`` tokens with the given strategy."""
    ids = list(ids)
    if len(ids) <= budget:
        return ids
    if truncation == "head":
        return ids[:budget]
    if truncation == "tail":
        return ids[len(ids) - budget :] if budget else []
    if truncation == "head+tail":
        head = int(budget * HEAD_SHARE)
        tail = budget - head
        return ids[:head] + (ids[len(ids) - tail :] if tail else [])
    raise ValueError(f"unknown truncation {truncation!r}; choose one of {', '.join(TRUNCATIONS)}")


class TextEncoder:
    """Encodes texts to token ids for one tokenizer, max length and truncation strategy."""

    def __init__(self, tokenizer: Tokenizer, max_length: int, truncation: str = "head") -> None:
        if truncation not in TRUNCATIONS:
            raise ValueError(f"unknown truncation {truncation!r}; choose one of {', '.join(TRUNCATIONS)}")
        # A private copy, so that padding or truncation set on the caller's tokenizer cannot leak in.
        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.max_length = int(max_length)
        self.truncation = truncation
        self.prefix, self.suffix = special_tokens(self.tokenizer)
        self.budget = self.max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 1:
            raise ValueError(
                f"max_length {max_length} leaves no room for text next to "
                f"{len(self.prefix) + len(self.suffix)} special tokens"
            )

    @property
    def pad_id(self) -> int:
        """The padding id: the tokenizer's ``[PAD]``/``<pad>`` token when it has one, else 0."""
        for token in ("[PAD]", "<pad>", "<PAD>"):
            token_id = self.tokenizer.token_to_id(token)
            if token_id is not None:
                return token_id
        return 0

    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, special tokens included, at most ``max_length`` long."""
        return self.encode_batch_checked(texts)[0]

    def encode_batch_checked(self, texts: Sequence[str]) -> tuple[list[list[int]], list[bool]]:
        """``encode_batch``, and for each text whether truncation cut it."""
        capped = [self.cap(text) for text in texts]
        encodings = self.tokenizer.encode_batch_fast([text for text, _ in capped],
                                                     add_special_tokens=False)
        rows = [self.prefix + truncate(e.ids, self.budget, self.truncation) + self.suffix
                for e in encodings]
        return rows, [cut or len(e.ids) > self.budget for e, (_, cut) in zip(encodings, capped)]

    def cap(self, text: str) -> tuple[str, bool]:
        """The part of ``text`` the tokenizer is handed, and whether that is less than all of it:
        at most ``max_length * CHARS_PER_TOKEN`` characters from each end truncation keeps."""
        limit = self.max_length * CHARS_PER_TOKEN
        if self.truncation == "head+tail":
            if len(text) <= 2 * limit + 1:
                return text, False
            # The space keeps the two ends' words apart; the tokens around it are dropped anyway.
            return f"{text[:limit]} {text[-limit:]}", True
        if len(text) <= limit:
            return text, False
        return (text[:limit] if self.truncation == "head" else text[-limit:]), True


def pad_rows(rows: Sequence[Sequence[int] | np.ndarray], pad_id: int,
             multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``input_ids`` and ``attention_mask`` (int64, ``[rows, width]``) of token rows padded on the
    right to the longest row, rounded up to a ``multiple`` (at least one column)."""
    longest = max((len(row) for row in rows), default=0)
    width = max(1, math.ceil(longest / multiple) * multiple)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return input_ids, mask
