"""Tokenizers for the encoder: a checkpoint's own, a given tokenizer.json, or one trained here."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from textclf import OptionError

SPECIAL = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
           "sep_token": "[SEP]", "mask_token": "[MASK]"}


def train_wordpiece(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """A lower-cased BERT-style WordPiece tokenizer trained on ``texts``."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL.values()))
    tokenizer.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    return tokenizer


def read_tokenizer(path: Path) -> Tokenizer:
    """A ``tokenizer.json``, or the one in a checkpoint directory."""
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():  # tokenizers reports a missing file with its own exception type
        raise OptionError(f"`tokenizer` {path}: no such tokenizer.json")
    try:
        return Tokenizer.from_file(str(file))
    except Exception as exc:
        raise OptionError(f"`tokenizer` {path}: not a tokenizers JSON file ({exc})") from None


def as_transformers(tokenizer: Tokenizer):
    """The same tokenizer as a transformers fast tokenizer, so that it saves in the HF format."""
    from transformers import PreTrainedTokenizerFast

    present = {k: v for k, v in SPECIAL.items() if tokenizer.token_to_id(v) is not None}
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **present)
