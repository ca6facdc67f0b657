"""The shared tokenization: each truncation strategy keeps exactly the tokens it promises."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from textclf.text import TextEncoder, special_tokens, truncate

WORDS = [f"w{i}" for i in range(20)]


def bert_like(with_specials: bool = True) -> Tokenizer:
    vocab = {"[UNK]": 0, "[PAD]": 1, "[CLS]": 2, "[SEP]": 3, **{w: 4 + i for i, w in enumerate(WORDS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    if with_specials:
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return tokenizer


def ids(words):
    return [4 + WORDS.index(w) for w in words]


TEXT = " ".join(WORDS)


def test_head_keeps_the_beginning():
    assert TextEncoder(bert_like(), 10, "head").encode(TEXT) == [2, *ids(WORDS[:8]), 3]


def test_tail_keeps_the_end():
    assert TextEncoder(bert_like(), 10, "tail").encode(TEXT) == [2, *ids(WORDS[-8:]), 3]


def test_head_plus_tail_keeps_a_quarter_from_the_start_and_the_rest_from_the_end():
    encoded = TextEncoder(bert_like(), 18, "head+tail").encode(TEXT)  # 16 text tokens: 4 + 12
    assert encoded == [2, *ids(WORDS[:4]), *ids(WORDS[-12:]), 3]


@pytest.mark.parametrize("truncation", ["head", "tail", "head+tail"])
def test_short_texts_are_not_cut(truncation):
    assert TextEncoder(bert_like(), 32, truncation).encode("w1 w2 w3") == [2, *ids(["w1", "w2", "w3"]), 3]


def test_tokenizer_without_special_tokens():
    encoder = TextEncoder(bert_like(with_specials=False), 5, "tail")
    assert encoder.encode(TEXT) == ids(WORDS[-5:])
    assert special_tokens(encoder.tokenizer) == ([], [])


def test_padding_or_truncation_set_on_the_tokenizer_does_not_leak_in():
    tokenizer = bert_like()
    tokenizer.enable_truncation(3)
    tokenizer.enable_padding(length=40)
    assert TextEncoder(tokenizer, 10, "head").encode("w1 w2 w3 w4") == [2, *ids(["w1", "w2", "w3", "w4"]), 3]


def test_pad_id_and_bad_settings():
    assert TextEncoder(bert_like(), 8).pad_id == 1
    with pytest.raises(ValueError, match="unknown truncation 'middle'"):
        TextEncoder(bert_like(), 8, "middle")
    with pytest.raises(ValueError, match="max_length 2 leaves no room for text"):
        TextEncoder(bert_like(), 2)


def test_truncate_edge_cases():
    assert truncate([1, 2, 3], 0, "tail") == []
    assert truncate([1, 2, 3, 4, 5], 1, "head+tail") == [5]
    assert truncate(list(range(10)), 4, "head+tail") == [0, 7, 8, 9]
